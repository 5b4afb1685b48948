/// How ``Upsample`` interpolates.
public enum UpsamplingMode: Sendable, Hashable {
    /// Each output copies the input it falls in, as PyTorch's `nearest`.
    case nearest
    /// Each output mixes the four inputs around it, as PyTorch's `bilinear` with `align_corners`.
    case bilinear(alignCorners: Bool)
}

/// Upsampling of NCHW planes, as PyTorch's `nn.Upsample`: to a `size`, or by a `scaleFactor`
/// (the output `⌊H · scale⌋ × ⌊W · scale⌋`, and the sampling positions PyTorch takes from the factor).
public final class Upsample<Scalar: TensorScalar>: SeparableResamplingLayer<Scalar> {
    public let mode: UpsamplingMode
    /// The output size, when given.
    public let size: (height: Int, width: Int)?
    /// The scale factors, when the size comes from them.
    public let scaleFactor: (height: Double, width: Double)?

    /// Upsamples to `size`.
    public init(size: (height: Int, width: Int), mode: UpsamplingMode = .nearest) {
        Misuse.check(size.height > 0 && size.width > 0, "Upsample", "size \(size.height)×\(size.width) must be positive")
        self.mode = mode
        self.size = size
        self.scaleFactor = nil
    }

    /// Upsamples by `scaleFactor` along each axis.
    public init(scaleFactor: (height: Double, width: Double), mode: UpsamplingMode = .nearest) {
        Misuse.check(
            scaleFactor.height > 0 && scaleFactor.width > 0 && scaleFactor.height.isFinite && scaleFactor.width.isFinite,
            "Upsample", "scale factor \(scaleFactor.height)×\(scaleFactor.width) must be positive and finite")
        self.mode = mode
        self.size = nil
        self.scaleFactor = scaleFactor
    }

    /// Upsamples by `scaleFactor` along both axes.
    public convenience init(scaleFactor: Double, mode: UpsamplingMode = .nearest) {
        self.init(scaleFactor: (scaleFactor, scaleFactor), mode: mode)
    }

    public override var description: String {
        let target = size.map { "size \($0.height)×\($0.width)" } ?? scaleFactor.map { "scale \($0.height)×\($0.width)" }!
        return "Upsample(\(target), \(mode))"
    }

    override func outputSize(height: Int, width: Int) throws(LayerShapeError) -> (height: Int, width: Int) {
        let output = size ?? (Int((Double(height) * scaleFactor!.height).rounded(.down)),
                              Int((Double(width) * scaleFactor!.width).rounded(.down)))
        guard output.height > 0, output.width > 0 else {
            throw LayerShapeError("the output would be \(output.height)×\(output.width)")
        }
        return output
    }

    override func maps(height: Int, width: Int) -> (rows: Tensor<Scalar>, columns: Tensor<Scalar>) {
        let output = try! outputSize(height: height, width: width)
        func axis(_ input: Int, _ output: Int, _ factor: Double?) -> Tensor<Scalar> {
            switch mode {
            case .nearest: ResamplingAxis.nearest(input: input, output: output, scaleFactor: factor)
            case .bilinear(let alignCorners):
                ResamplingAxis.linear(input: input, output: output, scaleFactor: factor, alignCorners: alignCorners)
            }
        }
        return (axis(height, output.height, scaleFactor?.height), axis(width, output.width, scaleFactor?.width))
    }
}
