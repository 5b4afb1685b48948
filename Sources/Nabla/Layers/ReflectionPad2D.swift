/// Reflection padding of NCHW planes, as PyTorch's `nn.ReflectionPad2d`: the input mirrored
/// about its edge rows and columns, each amount smaller than the size it mirrors.
public final class ReflectionPad2D<Scalar: TensorScalar>: SeparableResamplingLayer<Scalar> {
    public let padding: Padding2D

    public init(padding: Padding2D) {
        Misuse.check(
            [padding.left, padding.right, padding.top, padding.bottom].allSatisfy { $0 >= 0 }, "ReflectionPad2D",
            "padding \(padding) must not be negative")
        self.padding = padding
    }
    public convenience init(padding: Int) { self.init(padding: Padding2D(left: padding, right: padding, top: padding, bottom: padding)) }

    public override var description: String { "ReflectionPad2D(\(padding))" }

    override func outputSize(height: Int, width: Int) throws(LayerShapeError) -> (height: Int, width: Int) {
        guard max(padding.top, padding.bottom) < height, max(padding.left, padding.right) < width else {
            throw LayerShapeError("padding \(padding) must be smaller than the input's \(height)×\(width)")
        }
        return (height + padding.top + padding.bottom, width + padding.left + padding.right)
    }

    override func maps(height: Int, width: Int) -> (rows: Tensor<Scalar>, columns: Tensor<Scalar>) {
        (ResamplingAxis.reflectionPad(input: height, before: padding.top, after: padding.bottom),
         ResamplingAxis.reflectionPad(input: width, before: padding.left, after: padding.right))
    }
}
