/// Padding amounts, PyTorch's order `(left, right, top, bottom)`.
public struct Padding2D: Sendable, Hashable, CustomStringConvertible {
    public var left, right, top, bottom: Int
    public init(left: Int, right: Int, top: Int, bottom: Int) {
        (self.left, self.right, self.top, self.bottom) = (left, right, top, bottom)
    }
    public var description: String { "left \(left), right \(right), top \(top), bottom \(bottom)" }
}

/// Zero padding of NCHW planes, as PyTorch's `nn.ZeroPad2d`; negative amounts crop.
public final class ZeroPad2D<Scalar: TensorScalar>: SeparableResamplingLayer<Scalar> {
    public let padding: Padding2D

    public init(padding: Padding2D) { self.padding = padding }
    public convenience init(padding: Int) { self.init(padding: Padding2D(left: padding, right: padding, top: padding, bottom: padding)) }

    public override var description: String { "ZeroPad2D(\(padding))" }

    override func outputSize(height: Int, width: Int) throws(LayerShapeError) -> (height: Int, width: Int) {
        let output = (height + padding.top + padding.bottom, width + padding.left + padding.right)
        guard output.0 > 0, output.1 > 0 else { throw LayerShapeError("the output would be \(output.0)×\(output.1)") }
        return output
    }

    override func maps(height: Int, width: Int) -> (rows: Tensor<Scalar>, columns: Tensor<Scalar>) {
        (ResamplingAxis.zeroPad(input: height, before: padding.top, after: padding.bottom),
         ResamplingAxis.zeroPad(input: width, before: padding.left, after: padding.right))
    }
}
