/// 2-D max pooling over NCHW input: each window's maximum, padding acting as −∞.
///
/// Shapes: the input is `[N, C, H, W]` and the output `[N, C, oh, ow]`, sizes as in
/// ``conv2d(_:filter:configuration:)``. The gradient goes to each window's maximum (the first of
/// tied maxima, as ``maxPool2dWithIndices(_:configuration:)`` picks it): the manual forward
/// caches those indices and the manual backward scatters the gradient to them.
public final class MaxPool2D<Scalar: TensorScalar>: Layer<Scalar> {
    public let configuration: Pooling2DConfiguration
    private var cache: (inputShape: [Int], outputShape: [Int], indices: [Int])?

    /// Creates a layer with a square window; `stride` defaults to `kernelSize`.
    public convenience init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        self.init(configuration: .init(kernelSize: kernelSize, stride: stride, padding: padding))
    }

    /// Creates a layer with separate window sizes, strides and paddings per dimension. Sizes and
    /// strides must be positive, paddings between 0 and half the window.
    public init(configuration: Pooling2DConfiguration) {
        LayerShapes.checkPooling(configuration, "MaxPool2D")
        self.configuration = configuration
    }

    public override var description: String { "MaxPool2D(\(configuration))" }

    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        LayerShapes.checkPoolingInput(input.shape, configuration, self)
        return TensorOperations.maxPool2d(input, configuration: configuration)
    }

    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        LayerShapes.checkPoolingInput(input.shape, configuration, self)
        let (values, indices) = maxPool2dWithIndices(input, configuration: configuration)
        cache = (input.shape, values.shape, indices)
        return values
    }

    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard computesInputGradient else { return nil }
        guard let cache else { Misuse.fail("\(self)", "backward called before forward") }
        LayerShapes.checkGradient(outputGradient.shape, output: cache.outputShape, self)
        return scatter(outputGradient, atIndices: cache.indices, intoShape: cache.inputShape)
    }
}

/// The checks the pooling and shape layers share, with messages that name the layer and the
/// shapes.
enum LayerShapes {
    /// At construction: positive sizes and strides, padding at most half the window.
    static func checkPooling(_ c: Pooling2DConfiguration, _ layer: String) {
        Misuse.check(
            c.kernelHeight > 0 && c.kernelWidth > 0 && c.strideHeight > 0 && c.strideWidth > 0,
            layer, "\(c): kernel sizes and strides must be positive")
        Misuse.check(
            c.paddingHeight >= 0 && c.paddingWidth >= 0 && 2 * c.paddingHeight <= c.kernelHeight
                && 2 * c.paddingWidth <= c.kernelWidth,
            layer, "\(c): padding must be between 0 and half the window")
    }

    /// In forward: an `[N, C, H, W]` input, not empty, whose padded size holds the window.
    static func checkPoolingInput(
        _ shape: [Int], _ c: Pooling2DConfiguration, _ layer: some CustomStringConvertible
    ) {
        checkNCHW(shape, layer)
        let (height, width) = (shape[2] + 2 * c.paddingHeight, shape[3] + 2 * c.paddingWidth)
        Misuse.check(
            c.kernelHeight <= height && c.kernelWidth <= width, "\(layer)",
            "input \(shape): the \(c.kernelHeight)×\(c.kernelWidth) window is larger than the "
                + "padded input \(height)×\(width)")
    }

    /// An `[N, C, H, W]` input with positive channels, height and width.
    static func checkNCHW(_ shape: [Int], _ layer: some CustomStringConvertible) {
        Misuse.check(
            shape.count == 4, "\(layer)",
            "input \(shape): expected [batch, channels, height, width]")
        Misuse.check(
            shape[1] > 0 && shape[2] > 0 && shape[3] > 0, "\(layer)",
            "input \(shape): channels, height and width must be positive")
    }

    /// In backward: the output gradient has the last output's shape.
    static func checkGradient(
        _ shape: [Int], output: [Int], _ layer: some CustomStringConvertible
    ) {
        Misuse.check(
            shape == output, "\(layer)",
            "output gradient \(shape) for output \(output): shapes differ")
    }
}
