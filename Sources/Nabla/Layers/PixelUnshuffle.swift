/// Moves space into channels, as PyTorch's `nn.PixelUnshuffle(r)`: the inverse of ``PixelShuffle``,
/// `[N, C, H·r, W·r]` to `[N, C·r², H, W]`.
public final class PixelUnshuffle<Scalar: TensorScalar>: Layer<Scalar> {
    public let downscaleFactor: Int

    public init(downscaleFactor: Int) {
        Misuse.check(downscaleFactor > 0, "PixelUnshuffle", "downscale factor \(downscaleFactor) must be positive")
        self.downscaleFactor = downscaleFactor
    }

    public override var description: String { "PixelUnshuffle(\(downscaleFactor))" }

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        let r = downscaleFactor
        guard shape.count == 4, shape[2] % r == 0, shape[3] % r == 0 else {
            throw LayerShapeError("expected [batch, channels, height, width] with height and width multiples of \(r)")
        }
        return [shape[0], shape[1] * r * r, shape[2] / r, shape[3] / r]
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        _ = checkedOutputShape(input.shape)
        return TensorOperations.pixelUnshuffle(input, downscaleFactor: downscaleFactor)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        _ = checkedOutputShape(input.shape)
        return pixelUnshuffle(input, downscaleFactor: downscaleFactor)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        computesInputGradient ? pixelShuffle(outputGradient, upscaleFactor: downscaleFactor) : nil
    }
}
