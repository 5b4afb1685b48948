/// A failure of an MPI call, or of the job around it, as a typed error with one line to print.
public struct MPIError: Error, CustomStringConvertible, Sendable {
    /// What failed: the MPI call and what it was doing.
    public let operation: String
    /// MPI's own description of the error code, or the job's problem.
    public let reason: String

    public init(_ operation: String, _ reason: String) {
        self.operation = operation
        self.reason = reason
    }

    public var description: String { "\(operation): \(reason)" }
}
