/// The cross-entropy of a language model over a whole text, in bits per character, summed batch
/// by batch.
///
/// Each predicted character adds `−ln p(target)` nats, from its row of logits; the value is the
/// total over every character added so far divided by their count and by `ln 2`:
/// `bpc = (1/N) Σ −log₂ p(targetₙ)`. Batches of different sizes weigh by their characters (a mean
/// of per-batch means would not). A uniform guess over `V` symbols scores `log₂ V`.
public struct BitsPerCharacter: Sendable, Equatable {
    /// `Σ −ln p(target)` over the characters added, in `Double`.
    public private(set) var nats = 0.0
    /// The characters added.
    public private(set) var count = 0

    public init() {}

    /// Adds the characters of one batch.
    ///
    /// - Parameters:
    ///   - logits: `[N, V]`, or `[…, V]` with `N` rows before the last axis: one row of
    ///     unnormalized scores per predicted character.
    ///   - targets: `N` indices in `0..<V`, the characters that came.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public mutating func add<Scalar: TensorScalar>(logits: Tensor<Scalar>, targets: [Int]) {
        let classes = logits.shape.last ?? 0
        Misuse.check(
            logits.rank >= 1 && classes > 0 && logits.scalarCount == targets.count * classes, "BitsPerCharacter",
            "logits \(logits.shape) for \(targets.count) targets: expected [\(targets.count), V] (or […, V] with \(targets.count) rows)")
        guard !targets.isEmpty else { return }
        let rows = logits.reshaped(to: [targets.count, classes])
        let (maxima, logSums) = rows.rowMaximaAndLogSums()
        for (row, target) in targets.enumerated() {
            Misuse.check(
                (0..<classes).contains(target), "BitsPerCharacter",
                "target \(target) at row \(row) is out of range for logits \(logits.shape)")
            // −log p = log Σ exp(x − max) − (x_target − max)
            nats += Double(logSums[row]) - Double(rows[row, target] - maxima[row])
        }
        count += targets.count
    }

    /// Bits per character: `nats / count / ln 2`; NaN before anything was added.
    public var value: Double { count == 0 ? .nan : nats / Double(count) / 0.693_147_180_559_945_309_4 }  // ln 2
}
