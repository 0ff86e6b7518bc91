/// A setting in the environment is missing or unusable.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// The environment variable at fault.
    public var variable: String
    /// What is wrong with it and how to fix it; never includes the value of a secret.
    public var reason: String

    public init(_ variable: String, _ reason: String) {
        self.variable = variable
        self.reason = reason
    }

    public var description: String { "\(variable): \(reason)" }
}
