/// A store that another live service holds, or that could not be taken: the start stops with
/// this message, which names the holder.
public struct StoreHeld: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}
