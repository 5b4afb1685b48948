/// A 2-D transposed convolution over NCHW input (a "fractionally strided" convolution), as
/// PyTorch's `nn.ConvTranspose2d`: the adjoint of ``Conv2D`` with the same configuration, so
/// that it upsamples where a strided convolution downsamples.
///
/// Its forward is the input gradient of a convolution and its backward the convolution and its
/// filter gradient, so both paths run ``conv2dBackwardInput(_:filter:inputShape:configuration:groups:)``
/// and, in one pass that lowers the output gradient once, ``conv2d(_:filter:configuration:groups:)``
/// and ``conv2dBackwardFilter(_:input:filterShape:configuration:groups:)``, with the algorithms
/// ``ConvolutionAlgorithm`` picks for them.
///
/// Shapes: the input is `[N, inputChannels, H, W]` and the output
/// `[N, outputChannels, oh, ow]` with, as in PyTorch,
/// ```
/// oh = (H − 1)·strideHeight − 2·paddingHeight + dilationHeight·(kh − 1) + outputPaddingHeight + 1
/// ```
/// and `ow` alike. `outputPadding` (smaller than the stride or the dilation) adds rows and columns
/// at the bottom and right, to pick one of the sizes a strided convolution maps to the same
/// size. The weight is `[inputChannels, outputChannels / groups, kh, kw]`, PyTorch's layout, and
/// the bias `[outputChannels]`. With `groups` > 1, input channel group `k` feeds output channel
/// group `k` only.
public final class ConvTranspose2D<Scalar: TensorScalar>: Layer<Scalar> {
    public let inputChannels: Int
    public let outputChannels: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    /// The configuration of the convolution this layer is the adjoint of.
    public let configuration: Convolution2DConfiguration
    /// Extra output rows and columns at the bottom and right, `(height, width)`.
    public let outputPadding: (height: Int, width: Int)
    /// The channel groups, which divide both channel counts.
    public let groups: Int
    /// `[inputChannels, outputChannels / groups, kh, kw]`.
    public let weight: Parameter<Scalar>
    /// `[outputChannels]`, or `nil` without bias.
    public let bias: Parameter<Scalar>?
    private var cachedInput: Tensor<Scalar>?
    /// The output padding ``forward(_:outputSize:)`` sets for one call.
    private var pendingOutputPadding: (height: Int, width: Int)?

    /// Creates a layer with a square kernel and PyTorch's default initialization:
    /// weight and bias from `U(±1/√(outputChannels/groups·kh·kw))`.
    ///
    /// - Parameters:
    ///   - inputChannels: the input's channels, `C`.
    ///   - outputChannels: the output's channels.
    ///   - kernelSize: the kernel's height and width.
    ///   - stride: the stride of the convolution this layer is the adjoint of: the upsampling factor.
    ///   - padding: the zero padding of that convolution, removed from each side of the output.
    ///   - outputPadding: rows and columns added at the bottom and right, at least 0 and smaller
    ///     than `stride`.
    ///   - dilation: the spacing between kernel taps.
    ///   - groups: the channel groups, which divide both channel counts.
    ///   - bias: whether the layer adds a bias per output channel.
    ///   - generator: the source of the initial weights.
    public convenience init(
        inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1,
        padding: Int = 0, outputPadding: Int = 0, dilation: Int = 1, groups: Int = 1, bias: Bool = true,
        using generator: inout SeededGenerator
    ) {
        self.init(
            inputChannels: inputChannels, outputChannels: outputChannels, kernelHeight: kernelSize,
            kernelWidth: kernelSize, configuration: .init(stride: stride, padding: padding, dilation: dilation),
            outputPadding: (outputPadding, outputPadding), groups: groups, bias: bias, using: &generator)
    }

    /// Creates a layer with a `kernelHeight × kernelWidth` kernel and separate values per
    /// dimension.
    ///
    /// - Parameters:
    ///   - inputChannels: the input's channels, `C`.
    ///   - outputChannels: the output's channels.
    ///   - kernelHeight: the kernel's height, `kh`.
    ///   - kernelWidth: the kernel's width, `kw`.
    ///   - configuration: the stride, padding and dilation of the convolution this layer is the
    ///     adjoint of.
    ///   - outputPadding: rows and columns added at the bottom and right, each at least 0 and
    ///     smaller than its stride.
    ///   - groups: the channel groups, which divide both channel counts.
    ///   - bias: whether the layer adds a bias per output channel.
    ///   - generator: the source of the initial weights.
    public init(
        inputChannels: Int, outputChannels: Int, kernelHeight: Int, kernelWidth: Int,
        configuration: Convolution2DConfiguration, outputPadding: (height: Int, width: Int) = (0, 0),
        groups: Int = 1, bias: Bool = true, using generator: inout SeededGenerator
    ) {
        Misuse.checkTransposedConvolution(
            "ConvTranspose2D", inputChannels: inputChannels, outputChannels: outputChannels,
            kernel: (kernelHeight, kernelWidth), configuration: configuration, outputPadding: outputPadding,
            groups: groups)
        self.groups = groups
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.configuration = configuration
        self.outputPadding = outputPadding
        // PyTorch's fan-in of a transposed convolution is weight.size(1)·kh·kw.
        let bound = 1 / Scalar.sqrt(Scalar(outputChannels / groups * kernelHeight * kernelWidth))
        weight = Parameter(
            name: "weight",
            value: .randomUniform(
                shape: [inputChannels, outputChannels / groups, kernelHeight, kernelWidth], in: -bound..<bound,
                using: &generator))
        self.bias = bias
            ? Parameter(name: "bias", value: .randomUniform(shape: [outputChannels], in: -bound..<bound, using: &generator))
            : nil
    }

    public override var parameters: [Parameter<Scalar>] { [weight] + (bias.map { [$0] } ?? []) }

    public override var description: String {
        "ConvTranspose2D(\(inputChannels) → \(outputChannels), kernel \(kernelHeight)×\(kernelWidth), "
            + "\(configuration), output padding \(outputPadding.height)×\(outputPadding.width), "
            + "\(groups > 1 ? "groups: \(groups), " : "")bias: \(bias != nil))"
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        let outputShape = checkedOutputShape(input.shape)
        return TensorOperations.conv2dBackwardInput(
            input, filter: weight.variable, bias: bias?.variable, inputShape: outputShape, configuration: configuration,
            groups: groups)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let outputShape = checkedOutputShape(input.shape)
        cachedInput = input
        return conv2dBackwardInputAddingBias(
            input, filter: weight.value, bias: bias?.value, inputShape: outputShape, configuration: configuration,
            groups: groups)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard let input = cachedInput else { Misuse.fail("\(self)", "backward called before forward") }
        // The convolution this layer is the adjoint of runs from the output gradient to the input;
        // its filter gradient, the input gradient and the bias gradient read the output gradient once.
        let gradients = conv2dAndBackwardFilter(
            outputGradient, filter: weight.value, outputGradient: input, configuration: configuration, groups: groups,
            computesOutput: computesInputGradient, computesChannelSums: bias != nil)
        weight.accumulate(gradients.filterGradient)
        if let bias, let gradient = gradients.channelSums { bias.accumulate(gradient) }
        return gradients.output
    }

    /// Runs the layer so that its output is `outputSize` (height, width), as PyTorch's
    /// `forward(input, output_size)`: the output padding for this call is what reaches it, and
    /// must be smaller than the stride.
    ///
    /// - Parameters:
    ///   - input: `[N, inputChannels, H, W]`.
    ///   - outputSize: the output's height and width, each one of the `stride` sizes from the
    ///     one with no output padding up.
    /// - Returns: `[N, outputChannels, outputSize.height, outputSize.width]`.
    public func forward(_ input: Tensor<Scalar>, outputSize: (height: Int, width: Int)) -> Tensor<Scalar> {
        let smallest = try? outputShape(forInput: input.shape, outputPadding: (0, 0))
        guard let smallest else { return forward(input) }  // the shape check names the problem
        pendingOutputPadding = Misuse.transposedConvolutionOutputPadding(
            "\(self)", input: input.shape, outputSize: outputSize, smallest: (smallest[2], smallest[3]),
            configuration: configuration)
        defer { pendingOutputPadding = nil }
        return forward(input)
    }

    /// `[N, outputChannels, oh, ow]`, sizes as in PyTorch, for an input with the channels and an
    /// output of at least 1 × 1.
    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        try outputShape(forInput: shape, outputPadding: pendingOutputPadding ?? outputPadding)
    }

    private func outputShape(
        forInput shape: [Int], outputPadding: (height: Int, width: Int)
    ) throws(LayerShapeError) -> [Int] {
        guard shape.count == 4, shape[1] == inputChannels, shape[2] > 0, shape[3] > 0 else {
            throw LayerShapeError("expected [batch, \(inputChannels), height, width]")
        }
        let c = configuration
        let height = (shape[2] - 1) * c.strideHeight - 2 * c.paddingHeight + c.dilationHeight * (kernelHeight - 1)
            + outputPadding.height + 1
        let width = (shape[3] - 1) * c.strideWidth - 2 * c.paddingWidth + c.dilationWidth * (kernelWidth - 1)
            + outputPadding.width + 1
        guard height > 0, width > 0 else {
            throw LayerShapeError("with \(c) the output would be \(height)×\(width)")
        }
        return [shape[0], outputChannels, height, width]
    }
}
