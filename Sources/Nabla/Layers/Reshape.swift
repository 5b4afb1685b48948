/// Reshapes each sample, keeping the batch axis: `[N, …]` → `[N] + shape`, where one dimension
/// of `shape` may be −1, inferred from the sample's element count. The backward reshapes the
/// gradient back.
///
/// ```swift
/// let unflatten = Reshape<Float>(to: [4, 7, 7])   // [N, 196] → [N, 4, 7, 7]
/// ```
public final class Reshape<Scalar: TensorScalar>: Layer<Scalar> {
    /// The shape of each sample, without the batch axis; may hold one −1.
    public let shape: [Int]
    private var cachedInputShape: [Int]?

    /// Creates a layer that reshapes each sample to `shape`: positive dimensions, and at most one
    /// −1.
    public init(to shape: [Int]) {
        Misuse.check(
            shape.filter { $0 == -1 }.count <= 1, "Reshape",
            "shape \(shape): at most one dimension may be -1")
        Misuse.check(
            shape.allSatisfy { $0 > 0 || $0 == -1 }, "Reshape",
            "shape \(shape): dimensions must be positive (or one -1)")
        self.shape = shape
    }

    public override var description: String { "Reshape(\(shape))" }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        TensorOperations.reshape(input, to: checkedOutputShape(input.shape))
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        cachedInputShape = input.shape
        return input.reshaped(to: checkedOutputShape(input.shape))
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard computesInputGradient else { return nil }
        guard let input = cachedInputShape else {
            Misuse.fail("\(self)", "backward called before forward")
        }
        LayerShapes.checkGradient(outputGradient.shape, output: checkedOutputShape(input), self)
        return outputGradient.reshaped(to: input)
    }

    /// `[N] + shape` with the −1 resolved.
    public override func outputShape(forInput input: [Int]) throws(LayerShapeError) -> [Int] {
        guard input.count >= 1 else { throw LayerShapeError("expected a batch axis first (rank 1 at least)") }
        let count = input.dropFirst().reduce(1, *)
        let known = shape.filter { $0 != -1 }.reduce(1, *)
        var resolved = shape
        if let inferred = shape.firstIndex(of: -1) {
            guard count % known == 0 else {
                throw LayerShapeError(
                    "a sample's \(count) elements do not divide into \(shape) (not a multiple of \(known))")
            }
            resolved[inferred] = count / known
        } else if count != known {
            throw LayerShapeError("a sample's \(count) elements do not fit \(shape) (\(known) elements)")
        }
        return [input[0]] + resolved
    }
}
