import Foundation

/// Keeps the listeners an operator created, so they come back after a restart.
///
/// Unlike observers these calls are awaited: the API answers only once the change is stored.
public protocol ListenerStore: Sendable {
    func saveListener(_ spec: ListenerSpec, createdAt: Date) async throws
    func deleteListener(named name: String) async throws
    /// Named reconnecting sessions come back after a restart like listeners do.
    func saveReconnecting(_ spec: ConnectSpec, createdAt: Date) async throws
    func deleteReconnecting(named name: String) async throws
    /// Replaces the stored faults of a listener or a reconnecting session (never called for
    /// one live session: those end with it).
    func saveFaults(_ faults: [Fault], on target: FaultTarget) async throws
}
