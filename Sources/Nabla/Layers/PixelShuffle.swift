/// Moves channels into space, as PyTorch's `nn.PixelShuffle(r)`: `[N, C·r², H, W]` becomes
/// `[N, C, H·r, W·r]` (``pixelShuffle(_:upscaleFactor:)``). A rearrangement: its backward is the
/// inverse rearrangement, on both paths.
public final class PixelShuffle<Scalar: TensorScalar>: Layer<Scalar> {
    public let upscaleFactor: Int

    public init(upscaleFactor: Int) {
        Misuse.check(upscaleFactor > 0, "PixelShuffle", "upscale factor \(upscaleFactor) must be positive")
        self.upscaleFactor = upscaleFactor
    }

    public override var description: String { "PixelShuffle(\(upscaleFactor))" }

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        let r = upscaleFactor
        guard shape.count == 4, shape[1] % (r * r) == 0 else {
            throw LayerShapeError("expected [batch, channels, height, width] with channels a multiple of \(r * r)")
        }
        return [shape[0], shape[1] / (r * r), shape[2] * r, shape[3] * r]
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        _ = checkedOutputShape(input.shape)
        return TensorOperations.pixelShuffle(input, upscaleFactor: upscaleFactor)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        _ = checkedOutputShape(input.shape)
        return pixelShuffle(input, upscaleFactor: upscaleFactor)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        computesInputGradient ? pixelUnshuffle(outputGradient, downscaleFactor: upscaleFactor) : nil
    }
}
