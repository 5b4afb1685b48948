/// Adaptive average pooling to an output size, as PyTorch's `nn.AdaptiveAvgPool2d`: output
/// `(i, j)` averages input rows `⌊i·H/OH⌋ ..< ⌈(i + 1)·H/OH⌉` and the columns likewise.
public final class AdaptiveAvgPool2D<Scalar: TensorScalar>: SeparableResamplingLayer<Scalar> {
    public let outputSize: (height: Int, width: Int)

    public init(outputSize: (height: Int, width: Int)) {
        Misuse.check(
            outputSize.height > 0 && outputSize.width > 0, "AdaptiveAvgPool2D",
            "output size \(outputSize.height)×\(outputSize.width) must be positive")
        self.outputSize = outputSize
    }

    public convenience init(outputSize: Int) { self.init(outputSize: (outputSize, outputSize)) }

    public override var description: String { "AdaptiveAvgPool2D(\(outputSize.height)×\(outputSize.width))" }

    override func outputSize(height: Int, width: Int) throws(LayerShapeError) -> (height: Int, width: Int) { outputSize }

    override func maps(height: Int, width: Int) -> (rows: Tensor<Scalar>, columns: Tensor<Scalar>) {
        (ResamplingAxis.adaptiveAverage(input: height, output: outputSize.height),
         ResamplingAxis.adaptiveAverage(input: width, output: outputSize.width))
    }
}
