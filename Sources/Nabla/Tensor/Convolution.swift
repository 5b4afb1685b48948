// 2-D convolution over NCHW tensors: the entry points behind the convolution layers and their
// gradients. Each asks ConvolutionAlgorithm which algorithm runs (few-channel, Winograd, or
// im2col and one matrix product, written here).

/// The 2-D convolution (cross-correlation, as in deep learning) of `input` with `filter`.
///
/// - Parameters:
///   - input: `[N, C, H, W]`.
///   - filter: `[O, C / groups, kh, kw]`.
///   - configuration: stride, zero padding and dilation.
///   - groups: the channel groups, which divide `C` and `O`: output channels `k·O/groups ..<
///     (k + 1)·O/groups` read input channels `k·C/groups ..< (k + 1)·C/groups` only (PyTorch's
///     `groups`; `groups = C` is a depthwise convolution).
/// - Returns: `[N, O, oh, ow]`, with `oh = (H + 2·paddingHeight − dilationHeight·(kh − 1) − 1)
///   / strideHeight + 1` and likewise `ow`.
///
/// ```swift
/// let y = conv2d(x, filter: w, configuration: .init(stride: 2, padding: 1))
/// ```
@inlinable
public func conv2d<S: TensorScalar>(
    _ input: Tensor<S>, filter: Tensor<S>,
    configuration: Convolution2DConfiguration = .init(), groups: Int = 1
) -> Tensor<S> {
    let geometry = Misuse.convolutionGeometry(
        "conv2d", "input \(input.shape) and filter \(filter.shape)", input: input.shape,
        filter: filter.shape, configuration: configuration, groups: groups)
    let outputChannels = filter.shape[0]
    let outputShape = [geometry.batch, outputChannels, geometry.outputHeight, geometry.outputWidth]
    guard geometry.batch > 0 else { return Tensor(shape: outputShape, scalars: []) }
    switch ConvolutionAlgorithm.select(.forward, geometry: geometry, outputChannels: outputChannels, groups: groups) {
    case .depthwise, .perGroup:
        return groupedConv2d(input, filter: filter, geometry: geometry, groups: groups)
    case .fewChannels:
        return FewChannelConvolutionKernels.conv2d(input, filter: filter, bias: nil, geometry: geometry)
    case .winograd:
        return WinogradKernels.conv2d(input, filter: filter, geometry: geometry)
    case .spaceToDepth:
        return SpaceToDepthConvolution.conv2d(input, filter: filter, geometry: geometry)
    case .im2col:
        break
    }

    return Tensor(unsafeUninitializedShape: outputShape) { output in
        input.withUnsafeBufferPointer { input in
            filter.withUnsafeBufferPointer { filter in
                ConvolutionShapes.im2colForward(
                    geometry, outputChannels: outputChannels, input: input, filter: filter, output: output)
            }
        }
    }
}

/// The gradient of ``conv2d(_:filter:configuration:groups:)`` with respect to its input.
///
/// - Parameters:
///   - outputGradient: `[N, O, oh, ow]`, the gradient with respect to the convolution's output.
///   - filter: `[O, C / groups, kh, kw]`.
///   - inputShape: `[N, C, H, W]`.
///   - configuration: as in the forward convolution.
///   - groups: as in the forward convolution.
/// - Returns: `[N, C, H, W]`: col2im of `filterᵀ · outputGradient`.
@inlinable
public func conv2dBackwardInput<S: TensorScalar>(
    _ outputGradient: Tensor<S>, filter: Tensor<S>, inputShape: [Int],
    configuration: Convolution2DConfiguration = .init(), groups: Int = 1
) -> Tensor<S> {
    conv2dBackwardInputAddingBias(
        outputGradient, filter: filter, bias: nil, inputShape: inputShape, configuration: configuration,
        groups: groups)
}

/// ``conv2dBackwardInput(_:filter:inputShape:configuration:groups:)`` plus `bias` (`[C]`) per
/// input channel: a transposed convolution's forward. The im2col path adds the bias as it
/// writes each element; the others add it afterwards.
@inlinable
func conv2dBackwardInputAddingBias<S: TensorScalar>(
    _ outputGradient: Tensor<S>, filter: Tensor<S>, bias: Tensor<S>?, inputShape: [Int],
    configuration: Convolution2DConfiguration, groups: Int = 1
) -> Tensor<S> {
    let op = "conv2dBackwardInput"
    func shapes() -> String {
        "output gradient \(outputGradient.shape), filter \(filter.shape) and input shape "
            + "\(inputShape)"
    }
    let geometry = Misuse.convolutionGeometry(
        op, shapes(), input: inputShape, filter: filter.shape, configuration: configuration, groups: groups)
    let outputChannels = filter.shape[0]
    Misuse.checkOutputGradient(
        op, shapes(), outputGradient.shape, geometry: geometry, outputChannels: outputChannels)
    if let bias {
        Misuse.check(
            bias.shape == [geometry.channels], op,
            "\(shapes()) and bias \(bias.shape): bias must be [\(geometry.channels)]")
    }
    guard geometry.batch > 0 else { return Tensor(shape: inputShape, scalars: []) }
    var input: Tensor<S>
    switch ConvolutionAlgorithm.select(.inputGradient, geometry: geometry, outputChannels: outputChannels, groups: groups) {
    case .depthwise, .perGroup:
        input = groupedConv2dBackwardInput(outputGradient, filter: filter, geometry: geometry, groups: groups)
    case .fewChannels:
        input = FewChannelConvolutionKernels.conv2dBackwardInput(outputGradient, filter: filter, geometry: geometry)
    case .winograd:
        input = WinogradKernels.conv2dBackwardInput(outputGradient, filter: filter, geometry: geometry)
    case .spaceToDepth:
        // The bias goes into the Winograd output transform.
        return SpaceToDepthConvolution.conv2dBackwardInput(
            outputGradient, filter: filter, bias: bias, geometry: geometry)
    case .im2col:
        return Tensor(unsafeUninitializedShape: inputShape) { input in
            outputGradient.withUnsafeBufferPointer { outputGradient in
                filter.withUnsafeBufferPointer { filter in
                    func run(_ bias: UnsafeBufferPointer<S>?) {
                        ConvolutionShapes.im2colInputGradient(
                            geometry, outputChannels: outputChannels, outputGradient: outputGradient,
                            filter: filter, bias: bias, input: input)
                    }
                    guard let bias else { return run(nil) }
                    bias.withUnsafeBufferPointer { run($0) }
                }
            }
        }
    }
    if let bias { input += bias.reshaped(to: [1, geometry.channels, 1, 1]) }
    return input
}

/// The gradient of ``conv2d(_:filter:configuration:groups:)`` with respect to its filter.
///
/// - Parameters:
///   - outputGradient: `[N, O, oh, ow]`, the gradient with respect to the convolution's output.
///   - input: `[N, C, H, W]`, the convolution's input.
///   - filterShape: `[O, C / groups, kh, kw]`.
///   - configuration: as in the forward convolution.
///   - groups: as in the forward convolution.
/// - Returns: `[O, C / groups, kh, kw]`: `outputGradient · im2col(input)ᵀ`.
@inlinable
public func conv2dBackwardFilter<S: TensorScalar>(
    _ outputGradient: Tensor<S>, input: Tensor<S>, filterShape: [Int],
    configuration: Convolution2DConfiguration = .init(), groups: Int = 1
) -> Tensor<S> {
    let (geometry, outputChannels) = Misuse.filterGradientGeometry(
        outputGradient: outputGradient.shape, input: input.shape, filterShape: filterShape,
        configuration: configuration, groups: groups)
    guard geometry.batch > 0 else { return Tensor(repeating: 0, shape: filterShape) }
    switch ConvolutionAlgorithm.select(.filterGradient, geometry: geometry, outputChannels: outputChannels, groups: groups) {
    case .depthwise, .perGroup:
        return groupedConv2dBackwardFilter(
            outputGradient, input: input, filterShape: filterShape, geometry: geometry, groups: groups)
    case .fewChannels:
        return FewChannelConvolutionKernels.conv2dBackwardFilter(
            outputGradient, input: input, filterShape: filterShape, geometry: geometry,
            computesBiasGradient: false
        ).filter
    case .winograd:
        return WinogradKernels.conv2dBackwardFilter(
            outputGradient, input: input, outputChannels: outputChannels, geometry: geometry)
    case .spaceToDepth:
        return SpaceToDepthConvolution.conv2dBackwardFilterAndBias(
            outputGradient, input: input, outputChannels: outputChannels, geometry: geometry,
            computesBiasGradient: false
        ).filter
    case .im2col:
        break
    }

    return Tensor(unsafeUninitializedShape: filterShape) { filter in
        input.withUnsafeBufferPointer { input in
            ConvolutionShapes.withChannelMajor(outputGradient, geometry) { gradient in
                ConvolutionShapes.im2colFilterGradient(
                    geometry, outputChannels: outputChannels, channelMajorGradient: gradient, input: input,
                    filter: filter)
            }
        }
    }
}

/// The backward of a transposed convolution: ``conv2d(_:filter:configuration:groups:)`` of
/// `input` (if `computesOutput`) and ``conv2dBackwardFilter(_:input:filterShape:configuration:groups:)``
/// of `outputGradient` with the same `input`, two products of the same im2col of `input`. The
/// im2col path lowers `input` once for both, chunk by chunk, and sums `input` over axes 0, 2
/// and 3 (the transposed convolution's bias gradient) in the same pass if `computesChannelSums`.
///
/// - Parameters:
///   - input: `[N, C, H, W]`.
///   - filter: `[O, C / groups, kh, kw]`.
///   - outputGradient: `[N, O, oh, ow]`, the gradient with respect to `conv2d(input, filter)`.
///   - configuration: stride, zero padding and dilation.
///   - groups: the channel groups, as in ``conv2d(_:filter:configuration:groups:)``.
/// - Returns: `output` `[N, O, oh, ow]` (`nil` unless `computesOutput`), `filterGradient`
///   `[O, C / groups, kh, kw]` and `channelSums` `[C]` (`nil` unless `computesChannelSums`).
@inlinable
func conv2dAndBackwardFilter<S: TensorScalar>(
    _ input: Tensor<S>, filter: Tensor<S>, outputGradient: Tensor<S>,
    configuration: Convolution2DConfiguration, groups: Int = 1, computesOutput: Bool, computesChannelSums: Bool
) -> (output: Tensor<S>?, filterGradient: Tensor<S>, channelSums: Tensor<S>?) {
    let (geometry, outputChannels) = Misuse.filterGradientGeometry(
        outputGradient: outputGradient.shape, input: input.shape, filterShape: filter.shape,
        configuration: configuration, groups: groups)
    let g = geometry
    func select(_ pass: ConvolutionAlgorithm.Pass) -> ConvolutionAlgorithm {
        ConvolutionAlgorithm.select(pass, geometry: g, outputChannels: outputChannels, groups: groups)
    }
    if g.batch > 0, computesOutput, select(.filterGradient) == .spaceToDepth, select(.forward) == .spaceToDepth {
        let result = SpaceToDepthConvolution.conv2dAndBackwardFilter(
            input, filter: filter, outputGradient: outputGradient, geometry: g, computesChannelSums: computesChannelSums)
        return (result.output, result.filterGradient, result.channelSums)
    }
    guard g.batch > 0, select(.filterGradient) == .im2col, !computesOutput || select(.forward) == .im2col else {
        return (
            computesOutput ? conv2d(input, filter: filter, configuration: configuration, groups: groups) : nil,
            conv2dBackwardFilter(
                outputGradient, input: input, filterShape: filter.shape, configuration: configuration, groups: groups),
            computesChannelSums ? input.sum(alongAxes: [0, 2, 3]) : nil)
    }
    var output: Tensor<S>?
    var channelSums = [S](repeating: 0, count: computesChannelSums ? g.channels : 0)
    let filterGradient = Tensor<S>(unsafeUninitializedShape: filter.shape) { filterGradient in
        input.withUnsafeBufferPointer { input in
            channelSums.withUnsafeMutableBufferPointer { sums in
                let sums = computesChannelSums ? sums : nil
                guard computesOutput else {
                    return ConvolutionShapes.withChannelMajor(outputGradient, g) { gradient in
                        ConvolutionShapes.im2colFilterGradient(
                            g, outputChannels: outputChannels, channelMajorGradient: gradient, input: input,
                            filter: filterGradient, channelSums: sums)
                    }
                }
                output = Tensor(unsafeUninitializedShape: outputGradient.shape) { output in
                    filter.withUnsafeBufferPointer { filter in
                        outputGradient.withUnsafeBufferPointer { gradient in
                            ConvolutionShapes.im2colForwardAndFilterGradient(
                                g, outputChannels: outputChannels, input: input, filter: filter, gradient: gradient,
                                output: output, filterGradient: filterGradient, channelSums: sums)
                        }
                    }
                }
            }
        }
    }
    return (output, filterGradient, computesChannelSums ? Tensor(shape: [g.channels], scalars: channelSums) : nil)
}

/// ``conv2d(_:filter:configuration:groups:)`` plus `bias` (`[O]`) per output channel; the few-channel,
/// Winograd and depthwise paths add the bias inside the convolution instead of in a second pass.
@inlinable
func conv2dAddingBias<S: TensorScalar>(
    _ input: Tensor<S>, filter: Tensor<S>, bias: Tensor<S>?,
    configuration: Convolution2DConfiguration, groups: Int = 1
) -> Tensor<S> {
    let geometry = Misuse.convolutionGeometry(
        "conv2d", "input \(input.shape) and filter \(filter.shape)", input: input.shape,
        filter: filter.shape, configuration: configuration, groups: groups)
    let outputChannels = filter.shape[0]
    if let bias {
        Misuse.check(
            bias.shape == [outputChannels], "conv2d",
            "filter \(filter.shape) and bias \(bias.shape): bias must be [\(outputChannels)]")
    }
    // The few-channel, Winograd and depthwise paths add the bias as they write each output; the
    // others add it after the convolution.
    let algorithm = ConvolutionAlgorithm.select(
        .forwardAddingBias, geometry: geometry, outputChannels: outputChannels, groups: groups)
    if algorithm == .fewChannels {
        return FewChannelConvolutionKernels.conv2d(input, filter: filter, bias: bias, geometry: geometry)
    }
    if algorithm == .winograd, geometry.batch > 0 {
        return WinogradKernels.conv2d(input, filter: filter, bias: bias, geometry: geometry)
    }
    if algorithm == .spaceToDepth, geometry.batch > 0 {
        return SpaceToDepthConvolution.conv2d(input, filter: filter, bias: bias, geometry: geometry)
    }
    if algorithm == .depthwise, geometry.batch > 0 {
        return groupedConv2d(input, filter: filter, bias: bias, geometry: geometry, groups: groups)
    }
    var output = conv2d(input, filter: filter, configuration: configuration, groups: groups)
    if let bias { output += bias.reshaped(to: [1, outputChannels, 1, 1]) }
    return output
}

/// ``conv2dBackwardFilter(_:input:filterShape:configuration:groups:)`` and, if `computesBiasGradient`,
/// the bias gradient `[O]` (the output gradient summed over axes 0, 2 and 3); the few-channel,
/// Winograd and depthwise paths sum it in the same pass.
@inlinable
func conv2dBackwardFilterAndBias<S: TensorScalar>(
    _ outputGradient: Tensor<S>, input: Tensor<S>, filterShape: [Int],
    configuration: Convolution2DConfiguration, groups: Int = 1, computesBiasGradient: Bool
) -> (filter: Tensor<S>, bias: Tensor<S>?) {
    let (geometry, outputChannels) = Misuse.filterGradientGeometry(
        outputGradient: outputGradient.shape, input: input.shape, filterShape: filterShape,
        configuration: configuration, groups: groups)
    // The few-channel, Winograd and depthwise paths sum the bias gradient as they read the output gradient.
    let algorithm = ConvolutionAlgorithm.select(
        .filterAndBiasGradient, geometry: geometry, outputChannels: outputChannels, groups: groups)
    if algorithm == .fewChannels {
        return FewChannelConvolutionKernels.conv2dBackwardFilter(
            outputGradient, input: input, filterShape: filterShape, geometry: geometry,
            computesBiasGradient: computesBiasGradient)
    }
    if algorithm == .winograd {
        return WinogradKernels.conv2dBackwardFilterAndBias(
            outputGradient, input: input, outputChannels: outputChannels, geometry: geometry,
            computesBiasGradient: computesBiasGradient)
    }
    if algorithm == .spaceToDepth {
        return SpaceToDepthConvolution.conv2dBackwardFilterAndBias(
            outputGradient, input: input, outputChannels: outputChannels, geometry: geometry,
            computesBiasGradient: computesBiasGradient)
    }
    if algorithm == .depthwise, geometry.batch > 0 {
        return groupedConv2dBackwardFilterAndBias(
            outputGradient, input: input, filterShape: filterShape, geometry: geometry, groups: groups,
            computesBiasGradient: computesBiasGradient)
    }
    let filter = conv2dBackwardFilter(
        outputGradient, input: input, filterShape: filterShape, configuration: configuration, groups: groups)
    return (filter, computesBiasGradient ? outputGradient.sum(alongAxes: [0, 2, 3]) : nil)
}

/// The im2col matrix of `input`: every `kernelHeight × kernelWidth` window as a column.
///
/// - Parameters:
///   - input: `[N, C, H, W]`.
///   - kernelHeight: The window height `kh`.
///   - kernelWidth: The window width `kw`.
///   - configuration: The stride, zero padding and dilation of the windows.
/// - Returns: `[C·kh·kw, N·oh·ow]`. Row `(c·kh + i)·kw + j` holds tap `(i, j)` of channel `c`;
///   column `(n·oh + oy)·ow + ox` is the window of image `n` at output position `(oy, ox)`.
///   Taps in the zero padding are 0.
@inlinable
public func im2col<S: TensorScalar>(
    _ input: Tensor<S>, kernelHeight: Int, kernelWidth: Int,
    configuration: Convolution2DConfiguration = .init()
) -> Tensor<S> {
    let op = "im2col"
    Misuse.check(input.rank == 4, op, "input \(input.shape) must have rank 4 [N, C, H, W]")
    let geometry = Convolution2DGeometry(
        batch: input.shape[0], channels: input.shape[1], height: input.shape[2],
        width: input.shape[3], kernelHeight: kernelHeight, kernelWidth: kernelWidth,
        configuration: configuration, operation: op,
        shapes: "input \(input.shape) and kernel [\(kernelHeight), \(kernelWidth)]")
    return Tensor(unsafeUninitializedShape: [geometry.columnRows, geometry.columnCount]) {
        columns in
        input.withUnsafeBufferPointer {
            ConvolutionKernels.im2col(geometry, input: $0, columns: columns)
        }
    }
}

/// col2im, the adjoint of ``im2col(_:kernelHeight:kernelWidth:configuration:)``: adds every
/// column entry back into the input element it came from.
///
/// - Parameters:
///   - columns: `[C·kh·kw, N·oh·ow]`.
///   - inputShape: `[N, C, H, W]`.
///   - kernelHeight: The window height `kh`, as in the im2col.
///   - kernelWidth: The window width `kw`, as in the im2col.
///   - configuration: The stride, zero padding and dilation, as in the im2col.
/// - Returns: a tensor of `inputShape`.
@inlinable
public func col2im<S: TensorScalar>(
    _ columns: Tensor<S>, inputShape: [Int], kernelHeight: Int, kernelWidth: Int,
    configuration: Convolution2DConfiguration = .init()
) -> Tensor<S> {
    let op = "col2im"
    func shapes() -> String {
        "columns \(columns.shape), input shape \(inputShape) and kernel "
            + "[\(kernelHeight), \(kernelWidth)]"
    }
    Misuse.check(
        inputShape.count == 4, op, "\(shapes()): input shape must have rank 4 [N, C, H, W]")
    let geometry = Convolution2DGeometry(
        batch: inputShape[0], channels: inputShape[1], height: inputShape[2],
        width: inputShape[3], kernelHeight: kernelHeight, kernelWidth: kernelWidth,
        configuration: configuration, operation: op, shapes: shapes())
    let expected = [geometry.columnRows, geometry.columnCount]
    Misuse.check(
        columns.shape == expected, op,
        "\(shapes()) with \(configuration): columns must be \(expected)")
    return Tensor(unsafeUninitializedShape: inputShape) { input in
        columns.withUnsafeBufferPointer {
            ConvolutionKernels.col2im(geometry, columns: $0, input: input)
        }
    }
}

/// Buffer plumbing shared by the tensor-level convolutions.
@usableFromInline
enum ConvolutionShapes {
    /// The convolution by im2col: per chunk of images, the transposed columns
    /// `[n·oh·ow, C·kh·kw]` times `filterᵀ [C·kh·kw, O]`, each image's `[oh·ow, O]` block then
    /// transposed into its output `[O, oh, ow]`. The columns are still in cache for the GEMM,
    /// which packs only the small filter; the images are split among threads, each with its own
    /// scratch.
    ///
    /// Shapes: `input` is `[N, C, H, W]`, `filter` `[O, C, kh, kw]` and `output`
    /// `[N, O, oh, ow]`, as in `geometry`. Each element is one sum over `C·kh·kw` in order,
    /// whatever the chunk, so the result has the same bits for every thread count.
    @inlinable
    static func im2colForward<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, outputChannels: Int, input: UnsafeBufferPointer<S>,
        filter: UnsafeBufferPointer<S>, output: UnsafeMutableBufferPointer<S>
    ) {
        let g = geometry
        let (positions, rows) = (g.outputHeight * g.outputWidth, g.columnRows)
        let level = KernelFamily.matrixProducts.level  // read here: workers do not see the task's
        let (imagesPerChunk, parts) = chunking(
            g, positions: positions, rows: rows, n: outputChannels, k: rows, level: level, scalar: S.self)
        let columnCount = imagesPerChunk * positions * rows
        let paddedCount = ConvolutionKernels.paddedImageCount(g)
        let partCount = columnCount + paddedCount + imagesPerChunk * positions * outputChannels
        let (inputImage, outputImage) = (g.channels * g.height * g.width, outputChannels * positions)
        withWorkspace(S.self, count: rows * outputChannels + parts * partCount) { workspace in
            // filterᵀ [C·kh·kw, O], which the GEMM reads untransposed.
            let transposedFilter = UnsafeMutableBufferPointer(rebasing: workspace[..<(rows * outputChannels)])
            BLAS.transpose(rows: outputChannels, columns: rows, source: filter, destination: transposedFilter)
            WorkerPool.run(parts: parts) { part in
                let scratch = workspace.baseAddress! + rows * outputChannels + part * partCount
                let padded = UnsafeMutableBufferPointer(start: scratch + columnCount, count: paddedCount)
                let end = g.batch * (part + 1) / parts
                for first in stride(from: g.batch * part / parts, to: end, by: imagesPerChunk) {
                    let count = min(imagesPerChunk, end - first)
                    let columns = UnsafeMutableBufferPointer(start: scratch, count: count * positions * rows)
                    ConvolutionKernels.im2col(
                        images(count, of: g),
                        input: UnsafeBufferPointer(rebasing: input[(first * inputImage)..<((first + count) * inputImage)]),
                        transposedColumns: columns, padded: padded)
                    multiplyColumns(
                        columns, byTransposedFilter: transposedFilter, images: first..<(first + count),
                        positions: positions, outputChannels: outputChannels, level: level,
                        product: UnsafeMutableBufferPointer(
                            start: scratch + columnCount + paddedCount, count: count * outputImage),
                        output: output)
                }
            }
        }
    }

    /// The input gradient by im2col: per chunk of images, the transposed columns
    /// `gradientᵀ [n·oh·ow, O] · filter [O, C·kh·kw]`, then their col2im into the chunk's input
    /// gradient, so that the columns are still in cache when col2im reads them. The images are
    /// split among threads, each with its own scratch.
    ///
    /// Shapes: `outputGradient` is `[N, O, oh, ow]`, `filter` `[O, C, kh, kw]`, `bias` (added
    /// per input channel, for a transposed convolution) `[C]` and `input` `[N, C, H, W]`, as in
    /// `geometry`. Each element of the product is one sum over `O` in order, whatever the chunk,
    /// so the result has the same bits for every chunking and thread count.
    @inlinable
    static func im2colInputGradient<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, outputChannels: Int,
        outputGradient: UnsafeBufferPointer<S>, filter: UnsafeBufferPointer<S>,
        bias: UnsafeBufferPointer<S>? = nil, input: UnsafeMutableBufferPointer<S>
    ) {
        let g = geometry
        let (positions, rows) = (g.outputHeight * g.outputWidth, g.columnRows)
        let level = KernelFamily.matrixProducts.level  // read here: workers do not see the task's
        let (imagesPerChunk, parts) = chunking(
            g, positions: positions, rows: rows, n: rows, k: outputChannels, level: level, scalar: S.self)
        let columnCount = imagesPerChunk * positions * rows
        let paddedCount = ConvolutionKernels.paddedImageCount(g)
        let partCount = columnCount + paddedCount + imagesPerChunk * outputChannels * positions
        let (inputImage, gradientImage) = (g.channels * g.height * g.width, outputChannels * positions)
        withWorkspace(S.self, count: parts * partCount) { workspace in
            WorkerPool.run(parts: parts) { part in
                let scratch = workspace.baseAddress! + part * partCount
                let padded = UnsafeMutableBufferPointer(start: scratch + columnCount, count: paddedCount)
                let end = g.batch * (part + 1) / parts
                for first in stride(from: g.batch * part / parts, to: end, by: imagesPerChunk) {
                    let count = min(imagesPerChunk, end - first)
                    // The chunk's gradient [n, O, oh·ow] as [n·oh·ow, O], each image transposed:
                    // the GEMM packs rows of an untransposed A faster than a transposed one.
                    let gradient = UnsafeMutableBufferPointer(
                        start: scratch + columnCount + paddedCount, count: count * gradientImage)
                    for image in 0..<count {
                        let offset = (first + image) * gradientImage
                        BLAS.transpose(
                            rows: outputChannels, columns: positions,
                            source: UnsafeBufferPointer(rebasing: outputGradient[offset..<(offset + gradientImage)]),
                            destination: UnsafeMutableBufferPointer(
                                rebasing: gradient[(image * gradientImage)..<((image + 1) * gradientImage)]))
                    }
                    let columns = UnsafeMutableBufferPointer(start: scratch, count: count * positions * rows)
                    // gradientᵀ [n·oh·ow, O] · filter [O, C·kh·kw]
                    gemmReadingBInPlace(
                        level: level, m: count * positions, n: rows, k: outputChannels,
                        a: UnsafeBufferPointer(gradient), lda: outputChannels, b: filter, ldb: rows,
                        c: columns, ldc: rows)
                    ConvolutionKernels.col2im(
                        images(count, of: g), transposedColumns: UnsafeBufferPointer(columns),
                        input: UnsafeMutableBufferPointer(
                            rebasing: input[(first * inputImage)..<((first + count) * inputImage)]),
                        padded: padded, bias: bias)
                }
            }
        }
    }

    /// The filter gradient by im2col: over chunks of images in order, filter `[O, C·kh·kw]` +=
    /// gradient `[O, n·oh·ow]` · transposed columns `[n·oh·ow, C·kh·kw]`, with the chunk's columns
    /// in cache. Threads split the channels (the filter's columns), each lowering its own.
    ///
    /// Shapes: `channelMajorGradient` is `[O, N·oh·ow]`, `input` `[N, C, H, W]` and `filter`
    /// `[O, C, kh, kw]`, as in `geometry`. The chunks do not depend on the threads, so the result
    /// has the same bits for every thread count.
    ///
    /// With `channelSums` (`[C]`), it also writes the sum of each input channel over the batch
    /// and the positions (``addChannelSums(_:input:channels:into:)``, whatever the threads).
    @inlinable
    static func im2colFilterGradient<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, outputChannels: Int,
        channelMajorGradient gradient: UnsafeBufferPointer<S>, input: UnsafeBufferPointer<S>,
        filter: UnsafeMutableBufferPointer<S>, channelSums: UnsafeMutableBufferPointer<S>? = nil
    ) {
        let g = geometry
        let (positions, window, rows) = (g.outputHeight * g.outputWidth, g.kernelHeight * g.kernelWidth, g.columnRows)
        // At most 256 windows per chunk: within one 384-deep block of the GEMM, and the columns
        // of a chunk split over two threads stay within one part of the GEMM.
        let imagesPerChunk = min(g.batch, max(1, 256 / positions))
        let level = KernelFamily.matrixProducts.level  // read here: workers do not see the task's
        let threads = max(1, min(BLAS.threadCount, BLAS.onlineCores, g.channels))
        let parts = workerParts(
            items: threads, multiplyAdds: g.batch * positions * rows * outputChannels, level: level,
            m: outputChannels, n: (g.channels + threads - 1) / threads * window,
            k: imagesPerChunk * positions, scalar: S.self)
        let partColumns = imagesPerChunk * positions * ((g.channels + parts - 1) / parts * window)
        let paddedCount = ConvolutionKernels.paddedImageCount(g)
        let partCount = partColumns + paddedCount
        let inputImage = g.channels * g.height * g.width
        channelSums?.update(repeating: 0)
        withWorkspace(S.self, count: parts * partCount) { workspace in
            WorkerPool.run(parts: parts) { part in
                let channels = (g.channels * part / parts)..<(g.channels * (part + 1) / parts)
                let width = channels.count * window
                let scratch = workspace.baseAddress! + part * partCount
                let padded = UnsafeMutableBufferPointer(start: scratch + partColumns, count: paddedCount)
                for first in stride(from: 0, to: g.batch, by: imagesPerChunk) {
                    let count = min(imagesPerChunk, g.batch - first)
                    let columns = UnsafeMutableBufferPointer(start: scratch, count: count * positions * width)
                    let chunkInput = UnsafeBufferPointer(rebasing: input[(first * inputImage)..<((first + count) * inputImage)])
                    ConvolutionKernels.im2col(
                        images(count, of: g), input: chunkInput, transposedColumns: columns, padded: padded,
                        channels: channels)
                    if let channelSums {
                        addChannelSums(images(count, of: g), input: chunkInput, channels: channels, into: channelSums)
                    }
                    // gradient [O, n·oh·ow] · columns [n·oh·ow, c·kh·kw], into the part's columns
                    // of the filter; the first chunk overwrites them.
                    gemmReadingBInPlace(
                        level: level, m: outputChannels, n: width, k: count * positions,
                        a: UnsafeBufferPointer(rebasing: gradient[(first * positions)...]),
                        lda: g.batch * positions, b: UnsafeBufferPointer(columns), ldb: width,
                        beta: first == 0 ? 0 : 1,
                        c: UnsafeMutableBufferPointer(rebasing: filter[(channels.lowerBound * window)...]),
                        ldc: rows)
                }
            }
        }
    }

    /// `sums[c] += Σ input[n, c, y, x]` for the `channels`
    /// (``ReductionKernels/channelSum(_:channel:channels:batch:plane:)``). Shapes: `input` is
    /// `[N, C, H, W]` and `sums` `[C]`.
    @inlinable
    static func addChannelSums<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, input: UnsafeBufferPointer<S>, channels: Range<Int>,
        into sums: UnsafeMutableBufferPointer<S>
    ) {
        for channel in channels {
            sums[channel] += ReductionKernels.channelSum(
                input, channel: channel, channels: geometry.channels, batch: geometry.batch,
                plane: geometry.height * geometry.width)
        }
    }

    /// The convolution of `input` and the filter gradient from `gradient` with that input
    /// (a transposed convolution's backward), lowering `input` once: per chunk of images, the
    /// transposed columns `[n·oh·ow, C·kh·kw]`, still in cache, feed both `filterGradient [O,
    /// C·kh·kw] += gradient [O, n·oh·ow] · columns` and `columns · filterᵀ [C·kh·kw, O]`, whose
    /// `[oh·ow, O]` blocks are transposed into `output [N, O, oh, ow]`.
    ///
    /// The batch is cut into a number of spans that depends on the geometry and the machine's
    /// core count only (one per core, from two to eight, when it has at least two chunks), each
    /// span's filter gradient summed over its chunks in order and the spans' added in order;
    /// threads take whole spans. So the result has the same bits for every thread count. With `channelSums` (`[C]`), it also writes `input` summed over axes
    /// 0, 2 and 3, per span and then added alike.
    ///
    /// Shapes: `input` is `[N, C, H, W]`, `filter` and `filterGradient` `[O, C, kh, kw]`,
    /// `gradient` `[N, O, oh, ow]` and `output` `[N, O, oh, ow]`, as in `geometry`.
    @inlinable
    static func im2colForwardAndFilterGradient<S: TensorScalar>(
        _ geometry: Convolution2DGeometry, outputChannels: Int, input: UnsafeBufferPointer<S>,
        filter: UnsafeBufferPointer<S>, gradient: UnsafeBufferPointer<S>, output: UnsafeMutableBufferPointer<S>,
        filterGradient: UnsafeMutableBufferPointer<S>, channelSums: UnsafeMutableBufferPointer<S>?
    ) {
        let g = geometry
        let (positions, rows) = (g.outputHeight * g.outputWidth, g.columnRows)
        let level = KernelFamily.matrixProducts.level  // read here: workers do not see the task's
        let imagesPerChunk = min(g.batch, imagesPerProduct(positions: positions, rows: rows, scalar: S.self))
        // A span per core, at least two and at most eight (each past the first adds a filter
        // gradient to sum), each of whole chunks.
        let spans = g.batch >= 2 * imagesPerChunk
            ? min(g.batch / imagesPerChunk, max(2, min(BLAS.onlineCores, 8))) : 1
        let parts = min(spans, workerParts(
            items: spans, multiplyAdds: 2 * g.batch * positions * rows * outputChannels, level: level,
            m: imagesPerChunk * positions, n: outputChannels, k: rows, scalar: S.self))
        let (filterCount, channelCount) = (outputChannels * rows, channelSums == nil ? 0 : g.channels)
        let columnCount = imagesPerChunk * positions * rows
        let paddedCount = ConvolutionKernels.paddedImageCount(g)
        let productCount = imagesPerChunk * positions * outputChannels
        let gradientCount = g.batch * positions * outputChannels
        // Per part: columns, padded planes, product; per span past the first: its filter
        // gradient and channel sums.
        let partCount = columnCount + paddedCount + productCount
        let spanCount = filterCount + channelCount
        let shared = rows * outputChannels + gradientCount
        let inputImage = g.channels * g.height * g.width
        channelSums?.update(repeating: 0)
        withWorkspace(S.self, count: shared + parts * partCount + (spans - 1) * spanCount) { workspace in
            let base = workspace.baseAddress!
            // filterᵀ [C·kh·kw, O], which the GEMM reads untransposed.
            let transposedFilter = UnsafeMutableBufferPointer(start: base, count: rows * outputChannels)
            BLAS.transpose(rows: outputChannels, columns: rows, source: filter, destination: transposedFilter)
            // The gradient as [O, N·oh·ow]; each span permutes its own images.
            let channelMajor = UnsafeMutableBufferPointer(start: base + rows * outputChannels, count: gradientCount)
            WorkerPool.run(parts: parts) { part in
                let scratch = base + shared + part * partCount
                let padded = UnsafeMutableBufferPointer(start: scratch + columnCount, count: paddedCount)
                let product = UnsafeMutableBufferPointer(start: scratch + columnCount + paddedCount, count: productCount)
                for span in (spans * part / parts)..<(spans * (part + 1) / parts) {
                    let (start, end) = (g.batch * span / spans, g.batch * (span + 1) / spans)
                    let spanScratch = base + shared + parts * partCount + (span - 1) * spanCount
                    let spanFilter = span == 0
                        ? filterGradient : UnsafeMutableBufferPointer(start: spanScratch, count: filterCount)
                    let spanSums = span == 0
                        ? channelSums : channelSums.map { _ in
                            UnsafeMutableBufferPointer(start: spanScratch + filterCount, count: channelCount)
                        }
                    spanSums?.update(repeating: 0)
                    for image in start..<end {
                        for o in 0..<outputChannels {
                            ConvolutionKernels.copyTaps(
                                positions, dilation: 1, from: gradient.baseAddress! + (image * outputChannels + o) * positions,
                                to: channelMajor.baseAddress! + (o * g.batch + image) * positions)
                        }
                    }
                    for first in stride(from: start, to: end, by: imagesPerChunk) {
                        let count = min(imagesPerChunk, end - first)
                        let chunk = images(count, of: g)
                        let chunkInput = UnsafeBufferPointer(rebasing: input[(first * inputImage)..<((first + count) * inputImage)])
                        let columns = UnsafeMutableBufferPointer(start: scratch, count: count * positions * rows)
                        ConvolutionKernels.im2col(chunk, input: chunkInput, transposedColumns: columns, padded: padded)
                        if let spanSums { addChannelSums(chunk, input: chunkInput, channels: 0..<g.channels, into: spanSums) }
                        // gradient [O, n·oh·ow] · columns [n·oh·ow, C·kh·kw]; a span's first chunk overwrites.
                        gemmReadingBInPlace(
                            level: level, m: outputChannels, n: rows, k: count * positions,
                            a: UnsafeBufferPointer(rebasing: channelMajor[(first * positions)...]),
                            lda: g.batch * positions, b: UnsafeBufferPointer(columns), ldb: rows,
                            beta: first == start ? 0 : 1, c: spanFilter, ldc: rows)
                        multiplyColumns(
                            columns, byTransposedFilter: transposedFilter, images: first..<(first + count),
                            positions: positions, outputChannels: outputChannels, level: level, product: product,
                            output: output)
                    }
                }
            }
            // The spans past the first, added in order; the threads split the filter.
            WorkerPool.run(parts: parts) { part in
                let range = (filterCount * part / parts)..<(filterCount * (part + 1) / parts)
                for span in 1..<spans {
                    let spanScratch = base + shared + parts * partCount + (span - 1) * spanCount
                    for index in range { filterGradient[index] += spanScratch[index] }
                }
            }
            for span in 1..<spans {
                let spanSums = base + shared + parts * partCount + (span - 1) * spanCount + filterCount
                if let channelSums { for index in 0..<channelCount { channelSums[index] += spanSums[index] } }
            }
        }
    }

    /// `columns [n·oh·ow, C·kh·kw] · filterᵀ [C·kh·kw, O]` into `product` (`[n·oh·ow, O]`), then
    /// each image's `[oh·ow, O]` block transposed into its place in `output` (`[N, O, oh, ow]`):
    /// the convolution of a chunk of `images` from its transposed columns.
    @inlinable
    static func multiplyColumns<S: TensorScalar>(
        _ columns: UnsafeMutableBufferPointer<S>, byTransposedFilter transposedFilter: UnsafeMutableBufferPointer<S>,
        images: Range<Int>, positions: Int, outputChannels: Int, level: SIMDLevel,
        product: UnsafeMutableBufferPointer<S>, output: UnsafeMutableBufferPointer<S>
    ) {
        let (rows, outputImage) = (transposedFilter.count / outputChannels, outputChannels * positions)
        gemmReadingBInPlace(
            level: level, m: images.count * positions, n: outputChannels, k: rows,
            a: UnsafeBufferPointer(columns), lda: rows, b: UnsafeBufferPointer(transposedFilter),
            ldb: outputChannels, c: product, ldc: outputChannels)
        for (index, image) in images.enumerated() {
            let (from, to) = (index * outputImage, image * outputImage)
            BLAS.transpose(
                rows: positions, columns: outputChannels,
                source: UnsafeBufferPointer(rebasing: product[from..<(from + outputImage)]),
                destination: UnsafeMutableBufferPointer(rebasing: output[to..<(to + outputImage)]))
        }
    }

    /// `c ← a [m, k] · b [k, n] + beta · c` (all untransposed) as products of at most 96 rows
    /// of `c`, which PackedGEMM runs reading `b` in place instead of packing it. Each element is
    /// one sum over `k` in order either way: the same bits as one product.
    @inlinable
    static func gemmReadingBInPlace<S: TensorScalar>(
        level: SIMDLevel, m: Int, n: Int, k: Int, a: UnsafeBufferPointer<S>, lda: Int,
        b: UnsafeBufferPointer<S>, ldb: Int, beta: S = 0, c: UnsafeMutableBufferPointer<S>, ldc: Int
    ) {
        for row in stride(from: 0, to: m, by: 96) {
            BLAS.gemm(
                matrixProductsLevel: level, m: min(96, m - row), n: n, k: k,
                a: UnsafeBufferPointer(rebasing: a[(row * lda)...]), lda: lda, b: b, ldb: ldb, beta: beta,
                c: UnsafeMutableBufferPointer(rebasing: c[(row * ldc)...]), ldc: ldc)
        }
    }

    /// The images whose windows one GEMM of the transposed columns takes: the fewest that fill
    /// whole blocks of 6 rows (the GEMM's tile), 48 rows at least, while the columns stay
    /// within 2 MB (in L2 with the filter, mostly).
    @inlinable
    static func imagesPerProduct<S: TensorScalar>(positions: Int, rows: Int, scalar: S.Type) -> Int {
        var images = (48 + positions - 1) / positions
        while images * positions % 6 != 0 { images += 1 }
        return max(1, min(images, (1 << 21) / MemoryLayout<S>.stride / (positions * rows)))
    }

    /// The images per chunk and the threads of a loop over a batch's chunks whose products are
    /// `[images·positions, k] · [k, n]`: as many images as ``imagesPerProduct(positions:rows:scalar:)``
    /// allows, fewer if that lets the chunks be split among threads.
    @inlinable
    static func chunking<S: TensorScalar>(
        _ g: Convolution2DGeometry, positions: Int, rows: Int, n: Int, k: Int, level: SIMDLevel, scalar: S.Type
    ) -> (imagesPerChunk: Int, parts: Int) {
        func parts(_ images: Int) -> Int {
            workerParts(
                items: (g.batch + images - 1) / images, multiplyAdds: g.batch * positions * n * k,
                level: level, m: images * positions, n: n, k: k, scalar: S.self)
        }
        var images = min(g.batch, imagesPerProduct(positions: positions, rows: rows, scalar: S.self))
        while images > 1 && parts(images) == 1 && parts(1) > 1 { images -= 1 }
        return (images, parts(images))
    }

    /// `geometry` with a batch of `count` images.
    @inlinable
    static func images(_ count: Int, of geometry: Convolution2DGeometry) -> Convolution2DGeometry {
        let g = geometry
        return Convolution2DGeometry(
            batch: count, channels: g.channels, height: g.height, width: g.width,
            kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth, configuration: g.configuration)
    }

    /// The threads a loop over `items` takes, whose GEMMs are each at most `[m, k] · [k, n]` and
    /// `multiplyAdds` in all: up to `BLAS.threadCount`, when there is enough work and each GEMM
    /// runs on its worker alone (Nabla's packed GEMM, whose parts run one after another inside a
    /// ``WorkerPool`` part, or OpenBLAS below its threading size). Otherwise 1, and the GEMMs
    /// thread themselves.
    @usableFromInline
    static func workerParts<S: TensorScalar>(
        items: Int, multiplyAdds: Int, level: SIMDLevel, m: Int, n: Int, k: Int, scalar: S.Type
    ) -> Int {
        let alone = PackedGEMM.runs(level: level, m: m, n: n, k: k, alpha: S(1))
            || m * n * k <= BLAS.singleThreadedGemmLimit
        // Below about a million multiply-adds in all, waking a thread costs more than it saves.
        guard alone, multiplyAdds >= 1 << 20 else { return 1 }
        return max(1, min(BLAS.threadCount, BLAS.onlineCores, items))
    }

    /// Calls `body` with an `[N, O, oh, ow]` gradient permuted to `[O, N·oh·ow]`; no copy when
    /// `N == 1`.
    @inlinable
    static func withChannelMajor<S: TensorScalar>(
        _ gradient: Tensor<S>, _ geometry: Convolution2DGeometry,
        _ body: (UnsafeBufferPointer<S>) -> Void
    ) {
        gradient.withUnsafeBufferPointer { gradient in
            guard geometry.batch > 1 else { return body(gradient) }
            withWorkspace(S.self, count: gradient.count) { permuted in
                ConvolutionKernels.interchangeLeadingAxes(
                    outer: geometry.batch, inner: gradient.count / geometry.columnCount,
                    block: geometry.outputHeight * geometry.outputWidth,
                    source: gradient, destination: permuted)
                body(UnsafeBufferPointer(permuted))
            }
        }
    }
}
