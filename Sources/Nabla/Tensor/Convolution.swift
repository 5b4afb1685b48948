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
    case .im2col:
        break
    }

    // A few images at a time, so their im2col matrix (about 2 MB at most) stays in cache for
    // the GEMM instead of streaming the whole batch's through memory.
    let plane = geometry.outputHeight * geometry.outputWidth
    let rows = geometry.columnRows
    let imagesPerChunk = max(1, min(geometry.batch, (1 << 19) / max(rows * plane, 1)))
    let inputImage = geometry.channels * geometry.height * geometry.width
    let outputImage = outputChannels * plane
    let productCount = imagesPerChunk > 1 ? imagesPerChunk * outputChannels * plane : 0
    return withWorkspace(S.self, count: imagesPerChunk * rows * plane) { columns in
        withWorkspace(S.self, count: productCount) { product in
            Tensor(unsafeUninitializedShape: outputShape) { output in
                input.withUnsafeBufferPointer { input in
                    filter.withUnsafeBufferPointer { filter in
                        for first in stride(from: 0, to: geometry.batch, by: imagesPerChunk) {
                            let count = min(imagesPerChunk, geometry.batch - first)
                            let chunk = Convolution2DGeometry(
                                batch: count, channels: geometry.channels, height: geometry.height,
                                width: geometry.width, kernelHeight: geometry.kernelHeight,
                                kernelWidth: geometry.kernelWidth, configuration: configuration)
                            let chunkColumns = UnsafeMutableBufferPointer(
                                rebasing: columns[..<(count * rows * plane)])
                            ConvolutionKernels.im2col(
                                chunk,
                                input: UnsafeBufferPointer(
                                    rebasing: input[(first * inputImage)..<((first + count) * inputImage)]),
                                columns: chunkColumns)
                            let destination = UnsafeMutableBufferPointer(
                                rebasing: output[(first * outputImage)..<((first + count) * outputImage)])
                            // filter [O, C·kh·kw] · columns [C·kh·kw, n·oh·ow] = [O, n·oh·ow]; one image
                            // is already [1, O, oh·ow], more are interchanged into [n, O, oh·ow].
                            let target = count == 1
                                ? destination
                                : UnsafeMutableBufferPointer(rebasing: product[..<(count * outputImage)])
                            BLAS.gemm(
                                m: outputChannels, n: count * plane, k: rows,
                                a: filter, lda: rows, b: UnsafeBufferPointer(chunkColumns),
                                ldb: count * plane, c: target, ldc: count * plane)
                            if count > 1 {
                                ConvolutionKernels.interchangeLeadingAxes(
                                    outer: outputChannels, inner: count, block: plane,
                                    source: UnsafeBufferPointer(target), destination: destination)
                            }
                        }
                    }
                }
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
    guard geometry.batch > 0 else { return Tensor(shape: inputShape, scalars: []) }
    switch ConvolutionAlgorithm.select(.inputGradient, geometry: geometry, outputChannels: outputChannels, groups: groups) {
    case .depthwise, .perGroup:
        return groupedConv2dBackwardInput(outputGradient, filter: filter, geometry: geometry, groups: groups)
    case .fewChannels:
        return FewChannelConvolutionKernels.conv2dBackwardInput(outputGradient, filter: filter, geometry: geometry)
    case .winograd:
        return WinogradKernels.conv2dBackwardInput(outputGradient, filter: filter, geometry: geometry)
    case .im2col:
        break
    }

    let (rows, count) = (geometry.columnRows, geometry.columnCount)
    return withWorkspace(S.self, count: rows * count) { columns in
        ConvolutionShapes.withChannelMajor(outputGradient, geometry) { gradient in
            filter.withUnsafeBufferPointer { filter in
                // filterᵀ [C·kh·kw, O] · gradient [O, N·oh·ow]; the filter is read transposed.
                BLAS.gemm(
                    transposeA: true, m: rows, n: count, k: outputChannels,
                    a: filter, lda: rows, b: gradient, ldb: count, c: columns, ldc: count)
            }
        }
        return Tensor(unsafeUninitializedShape: inputShape) { input in
            ConvolutionKernels.col2im(geometry, columns: UnsafeBufferPointer(columns), input: input)
        }
    }
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
    case .im2col:
        break
    }

    let (rows, count) = (geometry.columnRows, geometry.columnCount)
    return withWorkspace(S.self, count: rows * count) { columns in
        input.withUnsafeBufferPointer { ConvolutionKernels.im2col(geometry, input: $0, columns: columns) }
        return Tensor(unsafeUninitializedShape: filterShape) { filter in
            ConvolutionShapes.withChannelMajor(outputGradient, geometry) { gradient in
                // gradient [O, N·oh·ow] · columnsᵀ [N·oh·ow, C·kh·kw]; columns are read transposed.
                BLAS.gemm(
                    transposeB: true, m: outputChannels, n: rows, k: count,
                    a: gradient, lda: count, b: UnsafeBufferPointer(columns), ldb: count,
                    c: filter, ldc: rows)
            }
        }
    }
}

/// ``conv2d(_:filter:configuration:groups:)`` plus `bias` (`[O]`) per output channel; the few-channel
/// and Winograd paths add the bias inside the convolution instead of in a second pass.
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
    // The few-channel and Winograd paths add the bias as they write each output; the others
    // add it after the convolution.
    let algorithm = ConvolutionAlgorithm.select(
        .forwardAddingBias, geometry: geometry, outputChannels: outputChannels, groups: groups)
    if algorithm == .fewChannels {
        return FewChannelConvolutionKernels.conv2d(input, filter: filter, bias: bias, geometry: geometry)
    }
    if algorithm == .winograd, geometry.batch > 0 {
        return WinogradKernels.conv2d(input, filter: filter, bias: bias, geometry: geometry)
    }
    var output = conv2d(input, filter: filter, configuration: configuration, groups: groups)
    if let bias { output += bias.reshaped(to: [1, outputChannels, 1, 1]) }
    return output
}

/// ``conv2dBackwardFilter(_:input:filterShape:configuration:groups:)`` and, if `computesBiasGradient`,
/// the bias gradient `[O]` (the output gradient summed over axes 0, 2 and 3); the few-channel
/// and Winograd paths sum it in the same pass.
@inlinable
func conv2dBackwardFilterAndBias<S: TensorScalar>(
    _ outputGradient: Tensor<S>, input: Tensor<S>, filterShape: [Int],
    configuration: Convolution2DConfiguration, groups: Int = 1, computesBiasGradient: Bool
) -> (filter: Tensor<S>, bias: Tensor<S>?) {
    let (geometry, outputChannels) = Misuse.filterGradientGeometry(
        outputGradient: outputGradient.shape, input: input.shape, filterShape: filterShape,
        configuration: configuration, groups: groups)
    // The few-channel and Winograd paths sum the bias gradient as they read the output gradient.
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
