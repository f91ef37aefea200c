import HTTPTypes
import Hummingbird
import Synchronization

/// The routes the router ended up with, known only after they are all added.
final class RouteTable: Sendable {
    private let routes = Mutex<[(HTTPRequest.Method, RouterPath)]>([])
    func set(_ routes: [(HTTPRequest.Method, RouterPath)]) { self.routes.withLock { $0 = routes } }

    /// The methods registered for a path, for a 405's Allow header.
    func methods(for path: String) -> [String] {
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        return routes.withLock { routes in
            routes.filter { route in
                route.1.components.count == components.count && zip(route.1.components, components).allSatisfy { $0 ~= $1 }
            }.map(\.0.rawValue).sorted()
        }
    }
}
