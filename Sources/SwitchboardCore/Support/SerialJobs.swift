import Synchronization

/// Runs async jobs one after another, in the order they were submitted: two changes to one
/// target's faults can then never reach the store in the other order than they were made.
final class SerialJobs: Sendable {
    private let last = Mutex<Task<Void, Never>?>(nil)

    func run<T: Sendable>(_ job: @escaping @Sendable () async throws(SwitchboardError) -> T) async throws(SwitchboardError) -> T {
        let task = last.withLock { previous -> Task<Result<T, SwitchboardError>, Never> in
            let before = previous
            let task = Task { () async -> Result<T, SwitchboardError> in
                await before?.value
                do throws(SwitchboardError) {
                    return .success(try await job())
                } catch {
                    return .failure(error)
                }
            }
            previous = Task { _ = await task.value }
            return task
        }
        return try await task.value.get()
    }
}
