import HTTPTypes
import Hummingbird
import Synchronization

/// The routes the router ended up with (known only once all are added), for a 405 that names
/// the methods a path does take, as Toxiproxy's router answers a known path under another method.
final class ToxiproxyRoutes: Sendable {
    private let routes = Mutex<[(HTTPRequest.Method, RouterPath)]>([])

    func set(_ routes: [(HTTPRequest.Method, RouterPath)]) { self.routes.withLock { $0 = routes } }

    func methods(for path: String) -> [String] {
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        let methods = routes.withLock { routes in
            routes.filter { route in
                route.1.components.count == components.count && zip(route.1.components, components).allSatisfy { $0 ~= $1 }
            }.map(\.0.rawValue)
        }
        return Array(Set(methods)).sorted()
    }
}
