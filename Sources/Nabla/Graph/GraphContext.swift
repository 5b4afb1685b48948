/// Scoped modes of the graph layer, held in task-local values: no global mutable state, and
/// tapes on different tasks or threads never see each other.
enum GraphContext {
    /// The tapes that record ops, outermost first.
    @TaskLocal static var activeTapes: [any RecordingTape] = []
    /// Whether ops are recorded at all.
    @TaskLocal static var isRecordingSuspended = false
    /// Whether backward passes check every gradient for NaN and infinity.
    @TaskLocal static var detectsAnomalies = false
    /// The name that groups recorded ops, for example a layer's name.
    @TaskLocal static var scopeName: String? = nil

    /// Whether an op run now would be recorded on some tape: in a backward rule, whether the
    /// rule's own ops are being differentiated (by an outer tape, or with `createGraph`).
    static var isRecordingBackward: Bool { !activeTapes.isEmpty && !isRecordingSuspended }
}

/// Runs `body` with no op recorded on any tape: its results are constants to every tape.
public func withoutRecording<R>(_ body: () throws -> R) rethrows -> R {
    try GraphContext.$isRecordingSuspended.withValue(true, operation: body)
}

/// Runs `body` with anomaly detection: each op remembers where it was created, and a backward
/// pass stops at the first op whose gradient holds a NaN or infinity, naming that op and place.
public func withAnomalyDetection<R>(_ body: () throws -> R) rethrows -> R {
    try GraphContext.$detectsAnomalies.withValue(true, operation: body)
}

/// Runs `body` with its recorded ops grouped under `name` (nested names join with `/`), as
/// the graph export shows them.
public func withNameScope<R>(_ name: String, _ body: () throws -> R) rethrows -> R {
    let full = GraphContext.scopeName.map { "\($0)/\(name)" } ?? name
    return try GraphContext.$scopeName.withValue(full, operation: body)
}
