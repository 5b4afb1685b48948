/// Inverted dropout: in training, each element is zeroed with probability `p` and the kept ones
/// are scaled by `1/(1 − p)`, so the expected output is the input; in inference
/// (``LearningPhase/inference(_:)``) the layer is the identity, as it is for `p = 0`.
///
/// The layer owns a ``SeededGenerator`` and draws a fresh mask in every training forward, on
/// either path in the same way, so the same generator state (``randomStates``) gives the same
/// mask and identical outputs. Masks are drawn in `Double`, so `Float` and `Double` layers with
/// the same state drop the same elements. The backward multiplies by the mask of the last
/// forward. A NaN input stays NaN where kept (and where dropped: `0 · NaN` is NaN, as in PyTorch).
public final class Dropout<Scalar: TensorScalar>: Layer<Scalar> {
    /// The probability of dropping an element, in [0, 1).
    public let probability: Double
    /// The generator the masks are drawn from.
    public private(set) var generator: SeededGenerator
    /// The last forward's input shape and scaled mask (`nil` when the forward was the identity).
    private var cache: (shape: [Int], scaledMask: Tensor<Scalar>?)?

    /// Creates a layer that drops with `probability` (in [0, 1)), its masks drawn from a generator
    /// seeded with `seed`.
    public init(probability: Double, seed: UInt64) {
        Misuse.check(
            probability >= 0 && probability < 1, "Dropout",
            "probability \(probability) must be in [0, 1): p = 1 would scale by 1/(1 − p) = 1/0")
        self.probability = probability
        self.generator = SeededGenerator(seed: seed)
    }

    /// Creates a layer whose generator is seeded with a draw from `generator`.
    public convenience init(probability: Double, using generator: inout SeededGenerator) {
        self.init(probability: probability, seed: generator.next())
    }

    public override var randomStates: [SeededGenerator] {
        get { [generator] }
        set {
            Misuse.check(
                newValue.count == 1, "\(self)",
                "randomStates: expected 1 generator state, but \(newValue.count) were given")
            generator = newValue[0]
        }
    }

    public override var description: String { "Dropout(p: \(probability))" }

    /// `1 − p`, the probability of keeping an element.
    private var keepProbability: Scalar { Scalar(1 - probability) }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        guard let mask = drawMask(input.shape) else { return input }
        return TensorOperations.dropout(input, mask: mask, keepProbability: keepProbability)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        guard let mask = drawMask(input.shape) else {
            cache = (input.shape, nil)
            return input
        }
        let scaledMask = mask / keepProbability  // as TensorOperations.dropout scales it
        cache = (input.shape, scaledMask)
        return input * scaledMask
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard computesInputGradient else { return nil }
        guard let cache else { Misuse.fail("\(self)", "backward called before forward") }
        LayerShapes.checkGradient(outputGradient.shape, output: cache.shape, self)
        return cache.scaledMask.map { outputGradient * $0 } ?? outputGradient
    }

    /// A fresh 0/1 mask (1 = kept) for a training forward with `p > 0`; `nil`, drawing nothing,
    /// when the layer is the identity.
    private func drawMask(_ shape: [Int]) -> Tensor<Scalar>? {
        guard LearningPhase.current == .training, probability > 0 else { return nil }
        return Tensor.dropoutMask(shape: shape, probability: probability, using: &generator)
    }
}
