/// A proxy as Toxiproxy's clients send it: to `POST /proxies`, `POST /proxies/{p}` and as
/// an entry of `POST /populate` (whose `toxics` Toxiproxy ignores and switchboard creates
/// with the proxy). Every field may be missing; unknown ones are ignored, as Go's decoder does.
struct ProxyInput: Decodable, Sendable {
    var name: String?
    var listen: String?
    var upstream: String?
    var enabled: Bool?
    var toxics: [ToxicInput]?
}
