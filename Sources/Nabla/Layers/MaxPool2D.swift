/// 2-D max pooling over NCHW input: each window's maximum, padding acting as −∞.
///
/// Shapes: the input is `[N, C, H, W]` and the output `[N, C, oh, ow]`, sizes as in
/// ``conv2d(_:filter:configuration:groups:)``. The gradient goes to each window's maximum (the first of
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

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        try LayerShapes.pooledShape(shape, configuration)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        _ = checkedOutputShape(input.shape)
        return TensorOperations.maxPool2d(input, configuration: configuration)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        _ = checkedOutputShape(input.shape)
        let (values, indices) = maxPool2dWithIndices(input, configuration: configuration)
        cache = (input.shape, values.shape, indices)
        return values
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard computesInputGradient else { return nil }
        guard let cache else { Misuse.fail("\(self)", "backward called before forward") }
        LayerShapes.checkGradient(outputGradient.shape, output: cache.outputShape, self)
        return scatter(outputGradient, atIndices: cache.indices, intoShape: cache.inputShape)
    }
}
