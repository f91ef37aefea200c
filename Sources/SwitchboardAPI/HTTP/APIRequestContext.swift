import Hummingbird
import NIOCore

/// The context of every API request: Hummingbird's basic one plus the connection the request
/// came on, which `BasicRequestContext` does not keep. Through it a request learns that its
/// client has gone (`ClientDisconnect`) and asks for `100 Continue` when it reads its body.
/// It also carries the limits the request is held to and how its JSON answers are laid out
/// (`?pretty`), both set by `ClientDisconnect.Responder`.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel
    var limits = APILimits()
    var jsonStyle = JSONStyle.compact

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Hummingbird's own body limit, kept the same as ours.
    public var maxUploadSize: Int { limits.maxBodyBytes }
}
