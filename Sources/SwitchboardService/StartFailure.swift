/// A reason the service could not start, printed as it is.
public struct StartFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
