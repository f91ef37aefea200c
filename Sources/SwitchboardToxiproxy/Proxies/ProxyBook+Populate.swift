import SwitchboardCore

extension ProxyBook {
    /// What `/populate` made and kept, in the order of its entries, and the error that stopped
    /// it part way (an address that could not be bound), as Toxiproxy answers both together.
    struct Populated: Sendable {
        var proxies: [Proxy] = []
        var error: ToxiproxyError?
    }

    /// `POST /populate`: every entry is checked before anything is made (Toxiproxy checks its
    /// name and upstream; here also its addresses and toxics). Then, in order, an entry whose
    /// name, listen and upstream equal an existing proxy's leaves that proxy as it is (its
    /// toxics and `enabled` too); one that differs replaces it, with the entry's toxics or
    /// none; a new name is made, with its toxics, atomically. Proxies not listed stay.
    func populate(_ entries: [ProxyInput]) async throws(ToxiproxyError) -> Populated {
        var specs: [ListenerSpec] = []
        // Toxiproxy's own check of every entry first, so its words win over the ones below.
        for (index, entry) in entries.enumerated() { _ = try Self.required(entry, at: index + 1) }
        for (index, entry) in entries.enumerated() {
            let place = " at proxy \(index + 1)"
            do throws(ToxiproxyError) {
                let (name, upstream) = try Self.required(entry, at: index + 1)
                if let existing = try? switchboard.listener(named: name), Proxy(existing) == nil {
                    throw ToxiproxyError(.conflict, "proxy already exists: a \(existing.mode.name) listener is named '\(name)'")
                }
                var names = Set<String>()
                var faults: [Fault] = []
                for (toxicIndex, input) in (entry.toxics ?? []).enumerated() {
                    do throws(ToxiproxyError) {
                        let fault = try Toxic.fault(from: input) { names.contains($0) }
                        names.insert(fault.name)
                        faults.append(fault)
                    } catch {
                        throw ToxiproxyError(error.status, "\(error.message) (toxic \(toxicIndex + 1))")
                    }
                }
                specs.append(try Self.spec(name: name, listen: entry.listen, upstream: upstream, enabled: entry.enabled ?? true, faults: faults))
            } catch {
                throw ToxiproxyError(error.status, error.message + place)
            }
        }
        var populated = Populated()
        for spec in specs {
            do throws(ToxiproxyError) {
                populated.proxies.append(try await put(spec))
            } catch {
                populated.error = error
                break
            }
        }
        return populated
    }

    private func put(_ spec: ListenerSpec) async throws(ToxiproxyError) -> Proxy {
        do {
            guard let existing = try? switchboard.listener(named: spec.name) else {
                return Proxy(try await switchboard.createListener(spec))!
            }
            if existing.state == .failed {
                _ = try await switchboard.deleteListener(named: spec.name, closeSessions: true)
                return Proxy(try await switchboard.createListener(spec))!
            }
            guard let proxy = Proxy(existing) else { throw ToxiproxyError.proxyExists }
            if case .forward(let upstream, _) = spec.mode, upstream == proxy.upstream, ProxyAddress.same(spec.address, as: existing) {
                return proxy
            }
            return Proxy(try await switchboard.changeListener(named: spec.name) { current in
                current.address = spec.address
                current.mode = spec.mode
                current.enabled = spec.enabled
                current.faults = spec.faults
            })!
        } catch let error as ToxiproxyError {
            throw error
        } catch let error as SwitchboardError {
            throw ToxiproxyError(error, exists: .proxyExists)
        } catch {
            throw ToxiproxyError(.internalServerError, "\(error)")
        }
    }
}
