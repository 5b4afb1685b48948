/// What the resampling and padding layers share (``Upsample``, ``AdaptiveAvgPool2D``,
/// ``ZeroPad2D``, ``ReflectionPad2D``): each is a separable linear map of every `[H, W]` plane,
/// `y = R · x · Cᵀ` with `R` `[OH, H]` and `C` `[OW, W]` built from the input size. The forward
/// is two matrix products, the manual backward their adjoint `Rᵀ · g · C`, and the graph-mode
/// forward the same products on the tape, exact at every order.
///
/// Shapes: `[N, C, H, W]` in, `[N, C, OH, OW]` out. A NaN or ±∞ in a plane reaches the outputs
/// that read it (and, as in any matrix product, a `0 · ∞` makes NaN of those that read it with
/// weight 0).
public class SeparableResamplingLayer<Scalar: TensorScalar>: Layer<Scalar> {
    /// The input size of the last manual forward, and its maps.
    private var cache: (shape: [Int], rows: Tensor<Scalar>, columns: Tensor<Scalar>)?

    override init() {}

    /// The output size for an input of `height × width`, or why there is none. A subclass overrides it.
    func outputSize(height: Int, width: Int) throws(LayerShapeError) -> (height: Int, width: Int) {
        Misuse.fail(description, "a resampling layer must give its output size")
    }

    /// `R` `[OH, H]` and `C` `[OW, W]` for an input of `height × width`. A subclass overrides it.
    func maps(height: Int, width: Int) -> (rows: Tensor<Scalar>, columns: Tensor<Scalar>) {
        Misuse.fail(description, "a resampling layer must give its maps")
    }

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        guard shape.count == 4, shape[2] > 0, shape[3] > 0 else {
            throw LayerShapeError("expected [batch, channels, height, width]")
        }
        let size = try outputSize(height: shape[2], width: shape[3])
        return [shape[0], shape[1], size.height, size.width]
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        typealias Ops = TensorOperations<Scalar>
        _ = checkedOutputShape(input.shape)
        let (rows, columns) = maps(height: input.shape[2], width: input.shape[3])
        return Ops.matmul(Ops.constant(rows), Ops.matmul(input, Ops.constant(columns), transposeRHS: true))
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        _ = checkedOutputShape(input.shape)
        let (rows, columns) = maps(height: input.shape[2], width: input.shape[3])
        cache = (input.shape, rows, columns)
        return separableResample(input, rows: rows, columns: columns)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard computesInputGradient else { return nil }
        guard let (shape, rows, columns) = cache else { Misuse.fail(description, "backward called before forward") }
        LayerShapes.checkGradient(outputGradient.shape, output: [shape[0], shape[1], rows.shape[0], columns.shape[0]], self)
        return separableResampleAdjoint(outputGradient, rows: rows, columns: columns)
    }
}
