import SwitchboardCore

extension ProxyBook {
    /// `GET /proxies/{p}/toxics`: upstream ones first, then downstream.
    func toxics(of proxy: String) throws(ToxiproxyError) -> [Fault] {
        Toxic.ordered(try self.proxy(proxy).info.faults)
    }

    func toxic(_ name: String, of proxy: String) throws(ToxiproxyError) -> Fault {
        guard let fault = try self.proxy(proxy).info.faults.first(where: { $0.name == name }) else { throw ToxiproxyError.toxicNotFound }
        return fault
    }

    /// `POST /proxies/{p}/toxics`: a fault on the proxy's listener, reaching its live
    /// connections as well as the ones to come.
    func addToxic(to proxy: String, _ input: ToxicInput) async throws(ToxiproxyError) -> Fault {
        let names = Set(try self.proxy(proxy).info.faults.map(\.name))
        let fault = try Toxic.fault(from: input) { names.contains($0) }
        do {
            return try await switchboard.addFault(fault, to: .listener(proxy))
        } catch {
            throw ToxiproxyError(error, exists: .toxicExists)
        }
    }

    /// `POST` or `PATCH /proxies/{p}/toxics/{t}`: changed in place, live connections too.
    func changeToxic(_ name: String, of proxy: String, _ input: ToxicInput) async throws(ToxiproxyError) -> Fault {
        _ = try toxic(name, of: proxy)
        do throws(SwitchboardError) {
            return try await switchboard.changeFault(named: name, on: .listener(proxy)) { fault throws(SwitchboardError) in
                // Merged into the fault as it is at the change, not as it was read above.
                do throws(ToxiproxyError) {
                    try Toxic.change(&fault, with: input)
                } catch {
                    throw SwitchboardError(.invalidArgument, error.message)
                }
            }
        } catch {
            throw ToxiproxyError(error, notFound: .toxicNotFound)
        }
    }

    func removeToxic(_ name: String, of proxy: String) async throws(ToxiproxyError) {
        _ = try toxic(name, of: proxy)
        do {
            try await switchboard.removeFault(named: name, from: .listener(proxy))
        } catch {
            throw ToxiproxyError(error, notFound: .toxicNotFound)
        }
    }
}
