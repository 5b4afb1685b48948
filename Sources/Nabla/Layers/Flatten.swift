/// Flattens each sample: `[N, d1, d2, …]` → `[N, d1·d2·…]`, the batch axis kept. The input
/// needs rank 2 at least; the backward reshapes the gradient back.
public final class Flatten<Scalar: TensorScalar>: Layer<Scalar> {
    private var cachedInputShape: [Int]?

    public override init() {}

    public override var description: String { "Flatten()" }

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
        guard let shape = cachedInputShape else {
            Misuse.fail("\(self)", "backward called before forward")
        }
        LayerShapes.checkGradient(outputGradient.shape, output: checkedOutputShape(shape), self)
        return outputGradient.reshaped(to: shape)
    }

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        guard shape.count >= 2 else { throw LayerShapeError("expected [batch, d1, …] (rank 2 at least)") }
        return [shape[0], shape.dropFirst().reduce(1, *)]
    }
}
