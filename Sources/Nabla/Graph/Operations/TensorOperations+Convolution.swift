// Convolution and pooling and their backward rules. Each linear op is paired with its adjoint
// op (im2col/col2im, gather/scatter, avgPool2d/avgPool2dAdjoint, and conv2d with its two
// gradient ops), each the other's backward, so derivatives of every order exist.

extension TensorOperations {
    /// The im2col matrix of `x`: every `kernelHeight × kernelWidth` window as a column.
    ///
    /// - Parameters:
    ///   - x: `[N, C, H, W]`.
    ///   - kernelHeight: The window height `kh`.
    ///   - kernelWidth: The window width `kw`.
    ///   - configuration: The stride, zero padding and dilation of the windows.
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
    /// - Returns: `[C·kh·kw, N·oh·ow]`, laid out as in
    ///   ``Nabla/im2col(_:kernelHeight:kernelWidth:configuration:)``. Its backward is
    ///   ``col2im(_:inputShape:kernelHeight:kernelWidth:configuration:file:line:)``.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func im2col(
        _ x: Variable<Scalar>, kernelHeight: Int, kernelWidth: Int,
        configuration: Convolution2DConfiguration = .init(),
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let value = Nabla.im2col(
            x.value, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
            configuration: configuration)
        return record("im2col", [x], value, file: file, line: line) { g, _ in
            [col2im(
                g, inputShape: x.shape, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                configuration: configuration)]
        }
    }

    /// col2im, the adjoint of ``im2col(_:kernelHeight:kernelWidth:configuration:file:line:)``:
    /// adds every column entry back into the input element it came from.
    ///
    /// - Parameters:
    ///   - columns: `[C·kh·kw, N·oh·ow]`.
    ///   - inputShape: `[N, C, H, W]`.
    ///   - kernelHeight: The window height `kh`, as in the im2col.
    ///   - kernelWidth: The window width `kw`, as in the im2col.
    ///   - configuration: The stride, zero padding and dilation, as in the im2col.
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
    /// - Returns: a tensor of `inputShape`. Its backward is im2col.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func col2im(
        _ columns: Variable<Scalar>, inputShape: [Int], kernelHeight: Int, kernelWidth: Int,
        configuration: Convolution2DConfiguration = .init(),
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let value = Nabla.col2im(
            columns.value, inputShape: inputShape, kernelHeight: kernelHeight,
            kernelWidth: kernelWidth, configuration: configuration)
        return record("col2im", [columns], value, file: file, line: line) { g, _ in
            [im2col(
                g, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                configuration: configuration)]
        }
    }

    /// The 2-D convolution (cross-correlation) of `input` with `filter`, plus `bias` per output
    /// channel if given.
    ///
    /// - Parameters:
    ///   - input: `[N, C, H, W]`.
    ///   - filter: `[O, C / groups, kh, kw]`.
    ///   - bias: `[O]`, or `nil`.
    ///   - configuration: stride, zero padding and dilation.
    ///   - groups: the channel groups, as in ``Nabla/conv2d(_:filter:configuration:groups:)``.
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
    /// - Returns: `[N, O, oh, ow]`, sizes as in ``Nabla/conv2d(_:filter:configuration:groups:)``.
    ///
    /// The forward and both gradients run the same kernels as the layers' manual backward:
    /// `dInput = conv2dBackwardInput(G, filter)` and `dFilter = conv2dBackwardFilter(G, input)`.
    /// These three ops are each other's adjoints, so every order of derivative stays within them.
    /// The bias is part of the op: its gradient is `G` summed over axes 0, 2 and 3, which the
    /// filter gradient's kernel sums in its own pass unless a tape records the backward.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func conv2d(
        _ input: Variable<Scalar>, filter: Variable<Scalar>, bias: Variable<Scalar>? = nil,
        configuration: Convolution2DConfiguration = .init(), groups: Int = 1,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let outputChannels = filter.shape[0]
        if let bias {
            Misuse.check(
                bias.shape == [outputChannels], "conv2d",
                "input \(input.shape), filter \(filter.shape) and bias \(bias.shape): bias must be "
                    + "[\(outputChannels)]")
        }
        // With a bias, one op: the bias joins the convolution's pass, and when nothing records
        // the backward its gradient joins the filter gradient's (as on the manual path).
        let value = conv2dAddingBias(
            input.value, filter: filter.value, bias: bias?.value, configuration: configuration, groups: groups)
        return record("conv2d", [input, filter] + (bias.map { [$0] } ?? []), value, file: file, line: line) { g, needs in
            let inputGradient = needs[0]
                ? conv2dBackwardInput(g, filter: filter, inputShape: input.shape, configuration: configuration, groups: groups)
                : nil
            let needsBias = needs.count > 2 && needs[2]
            guard !GraphContext.isRecordingBackward else {
                let filterGradient = needs[1]
                    ? conv2dBackwardFilter(g, input: input, filterShape: filter.shape, configuration: configuration, groups: groups)
                    : nil
                let biasGradient = needsBias ? sum(g, alongAxes: [0, 2, 3]) : nil
                return [inputGradient, filterGradient] + (bias == nil ? [] : [biasGradient])
            }
            var filterGradient: Variable<Scalar>?, biasGradient: Variable<Scalar>?
            if needs[1] {
                let gradients = conv2dBackwardFilterAndBias(
                    g.value, input: input.value, filterShape: filter.shape, configuration: configuration,
                    groups: groups, computesBiasGradient: needsBias)
                filterGradient = constant(gradients.filter)
                biasGradient = gradients.bias.map(constant)
            } else if needsBias {
                biasGradient = constant(g.value.sum(alongAxes: [0, 2, 3]))
            }
            return [inputGradient, filterGradient] + (bias == nil ? [] : [biasGradient])
        }
    }

    /// The gradient of ``conv2d(_:filter:bias:configuration:groups:file:line:)`` with respect to
    /// its input, as a differentiable op (a transposed convolution), plus `bias` per channel of
    /// the result if given.
    ///
    /// - Parameters:
    ///   - outputGradient: `[N, O, oh, ow]`.
    ///   - filter: `[O, C / groups, kh, kw]`.
    ///   - bias: `[C]`, or `nil`.
    ///   - inputShape: `[N, C, H, W]`, the convolution's input shape.
    ///   - configuration: as in the convolution.
    ///   - groups: as in the convolution.
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
    /// - Returns: `[N, C, H, W]`, as ``Nabla/conv2dBackwardInput(_:filter:inputShape:configuration:groups:)``.
    ///   It is linear in each argument: `⟨conv2dBackwardInput(G, W), H⟩ = ⟨G, conv2d(H, W)⟩`, which
    ///   gives its backward. Unless a tape records the backward, the gradients with respect to
    ///   `outputGradient`, `filter` and `bias` come from one pass that lowers `H` once (as on
    ///   ``ConvTranspose2D``'s manual path).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func conv2dBackwardInput(
        _ outputGradient: Variable<Scalar>, filter: Variable<Scalar>, bias: Variable<Scalar>? = nil,
        inputShape: [Int], configuration: Convolution2DConfiguration = .init(), groups: Int = 1,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let value = conv2dBackwardInputAddingBias(
            outputGradient.value, filter: filter.value, bias: bias?.value, inputShape: inputShape,
            configuration: configuration, groups: groups)
        let inputs = [outputGradient, filter] + (bias.map { [$0] } ?? [])
        return record("conv2dBackwardInput", inputs, value, file: file, line: line) { h, needs in
            let needsBias = needs.count > 2 && needs[2]
            guard !GraphContext.isRecordingBackward, needs[1] else {
                let gradients = [
                    needs[0] ? conv2d(h, filter: filter, configuration: configuration, groups: groups) : nil,
                    needs[1]
                        ? conv2dBackwardFilter(
                            outputGradient, input: h, filterShape: filter.shape, configuration: configuration, groups: groups)
                        : nil]
                return gradients + (bias == nil ? [] : [needsBias ? sum(h, alongAxes: [0, 2, 3]) : nil])
            }
            let gradients = conv2dAndBackwardFilter(
                h.value, filter: filter.value, outputGradient: outputGradient.value, configuration: configuration,
                groups: groups, computesOutput: needs[0], computesChannelSums: needsBias)
            return [gradients.output.map(constant), constant(gradients.filterGradient)]
                + (bias == nil ? [] : [gradients.channelSums.map(constant)])
        }
    }

    /// The gradient of ``conv2d(_:filter:bias:configuration:groups:file:line:)`` with respect to
    /// its filter, as a differentiable op.
    ///
    /// - Parameters:
    ///   - outputGradient: `[N, O, oh, ow]`.
    ///   - input: `[N, C, H, W]`, the convolution's input.
    ///   - filterShape: `[O, C / groups, kh, kw]`.
    ///   - configuration: as in the convolution.
    ///   - groups: as in the convolution.
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
    /// - Returns: `[O, C / groups, kh, kw]`, as
    ///   ``Nabla/conv2dBackwardFilter(_:input:filterShape:configuration:groups:)``. It is linear in
    ///   each argument: `⟨conv2dBackwardFilter(G, X), K⟩ = ⟨G, conv2d(X, K)⟩`, which gives its backward.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func conv2dBackwardFilter(
        _ outputGradient: Variable<Scalar>, input: Variable<Scalar>, filterShape: [Int],
        configuration: Convolution2DConfiguration = .init(), groups: Int = 1,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let value = Nabla.conv2dBackwardFilter(
            outputGradient.value, input: input.value, filterShape: filterShape,
            configuration: configuration, groups: groups)
        return record("conv2dBackwardFilter", [outputGradient, input], value, file: file, line: line) { k, needs in
            [needs[0] ? conv2d(input, filter: k, configuration: configuration, groups: groups) : nil,
             needs[1]
                ? conv2dBackwardInput(
                    outputGradient, filter: k, inputShape: input.shape, configuration: configuration, groups: groups)
                : nil]
        }
    }

    /// 2-D max pooling with a square window; `stride` defaults to `kernelSize`.
    ///
    /// - Parameters:
    ///   - x: `[N, C, H, W]`.
    ///   - kernelSize: The window's height and width.
    ///   - stride: The step between windows in both dimensions; `kernelSize` if `nil`.
    ///   - padding: at most `kernelSize / 2`; padding never wins (it acts as −∞).
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
    /// - Returns: `[N, C, oh, ow]` with `oh = (H + 2·padding − kernelSize) / stride + 1`, and
    ///   likewise `ow`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func maxPool2d(
        _ x: Variable<Scalar>, kernelSize: Int, stride: Int? = nil, padding: Int = 0,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        maxPool2d(
            x, configuration: .init(kernelSize: kernelSize, stride: stride, padding: padding),
            file: file, line: line)
    }

    /// 2-D max pooling with separate window sizes, strides and paddings per dimension.
    ///
    /// - Parameters:
    ///   - x: `[N, C, H, W]`.
    ///   - configuration: the window, its stride and padding (at most half the window).
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
    /// - Returns: `[N, C, oh, ow]`. The gradient goes to each window's maximum (the first of
    ///   tied maxima) through ``scatter(_:atIndices:intoShape:file:line:)``.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func maxPool2d(
        _ x: Variable<Scalar>, configuration: Pooling2DConfiguration,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let (value, indices) = maxPool2dWithIndices(x.value, configuration: configuration)
        return record("maxPool2d", [x], value, file: file, line: line) { g, _ in
            [scatter(g, atIndices: indices, intoShape: x.shape)]
        }
    }

    /// The elements of `x` at row-major offsets `indices`, as a tensor of `shape` (one index per
    /// element). Its backward is ``scatter(_:atIndices:intoShape:file:line:)``.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func gather(
        _ x: Variable<Scalar>, atIndices indices: [Int], shape: [Int],
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let value = Nabla.gather(x.value, atIndices: indices, shape: shape)
        return record("gather", [x], value, file: file, line: line) { g, _ in
            [scatter(g, atIndices: indices, intoShape: x.shape)]
        }
    }

    /// A zero tensor of `shape` with each element of `values` added at its row-major offset in
    /// `indices` (one index per element of `values`; repeats add up). Its backward is
    /// ``gather(_:atIndices:shape:file:line:)``.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func scatter(
        _ values: Variable<Scalar>, atIndices indices: [Int], intoShape shape: [Int],
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let value = Nabla.scatter(values.value, atIndices: indices, intoShape: shape)
        return record("scatter", [values], value, file: file, line: line) { g, _ in
            [gather(g, atIndices: indices, shape: values.shape)]
        }
    }

    /// 2-D average pooling with a square window; `stride` defaults to `kernelSize`.
    ///
    /// Padding counts: every window sum is divided by `kernelSize²`, zeros in the padding
    /// included, as PyTorch's default `count_include_pad=True`.
    ///
    /// - Parameters:
    ///   - x: `[N, C, H, W]`.
    ///   - kernelSize: The window's height and width.
    ///   - stride: The step between windows in both dimensions; `kernelSize` if `nil`.
    ///   - padding: at most `kernelSize / 2`.
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
    /// - Returns: `[N, C, oh, ow]` with `oh = (H + 2·padding − kernelSize) / stride + 1`, and
    ///   likewise `ow`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func avgPool2d(
        _ x: Variable<Scalar>, kernelSize: Int, stride: Int? = nil, padding: Int = 0,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        avgPool2d(
            x, configuration: .init(kernelSize: kernelSize, stride: stride, padding: padding),
            file: file, line: line)
    }

    /// 2-D average pooling with separate window sizes, strides and paddings per dimension,
    /// dividing by `kernelHeight · kernelWidth` (padding counts).
    ///
    /// - Parameters:
    ///   - x: `[N, C, H, W]`.
    ///   - configuration: the window, its stride and padding (at most half the window).
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
    /// - Returns: `[N, C, oh, ow]`. Its backward is
    ///   ``avgPool2dAdjoint(_:inputShape:configuration:file:line:)``.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func avgPool2d(
        _ x: Variable<Scalar>, configuration: Pooling2DConfiguration,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let value = Nabla.avgPool2d(x.value, configuration: configuration)
        return record("avgPool2d", [x], value, file: file, line: line) { g, _ in
            [avgPool2dAdjoint(g, inputShape: x.shape, configuration: configuration)]
        }
    }

    /// The adjoint of average pooling: spreads each element of `pooled`, divided by
    /// `kernelHeight · kernelWidth`, over its window.
    ///
    /// - Parameters:
    ///   - pooled: `[N, C, oh, ow]`.
    ///   - inputShape: `[N, C, H, W]`.
    ///   - configuration: The window, its stride and padding, as in the pooling.
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
    /// - Returns: a tensor of `inputShape`. Its backward is average pooling.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func avgPool2dAdjoint(
        _ pooled: Variable<Scalar>, inputShape: [Int], configuration: Pooling2DConfiguration,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let value = Nabla.avgPool2dAdjoint(
            pooled.value, inputShape: inputShape, configuration: configuration)
        return record("avgPool2dAdjoint", [pooled], value, file: file, line: line) { g, _ in
            [avgPool2d(g, configuration: configuration)]
        }
    }
}
