/// The mean of every channel over its whole plane.
///
/// Shapes: the input is `[N, C, H, W]` and the output `[N, C]` (the height and width axes are
/// removed, not kept as 1 × 1), ready for a ``Dense`` layer. The backward spreads each gradient
/// element, divided by `H · W`, over its plane.
public final class GlobalAvgPool2D<Scalar: TensorScalar>: Layer<Scalar> {
    private var cachedInputShape: [Int]?

    public override init() {}

    public override var description: String { "GlobalAvgPool2D()" }

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        try LayerShapes.checkNCHW(shape)
        return Array(shape.prefix(2))
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        _ = checkedOutputShape(input.shape)
        return TensorOperations.mean(input, alongAxes: [2, 3])
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        _ = checkedOutputShape(input.shape)
        cachedInputShape = input.shape
        return input.mean(alongAxes: [2, 3])
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard computesInputGradient else { return nil }
        guard let shape = cachedInputShape else {
            Misuse.fail("\(self)", "backward called before forward")
        }
        LayerShapes.checkGradient(outputGradient.shape, output: Array(shape.prefix(2)), self)
        return (outputGradient / Scalar(shape[2] * shape[3]))
            .reshaped(to: [shape[0], shape[1], 1, 1]).broadcasted(to: shape)
    }
}
