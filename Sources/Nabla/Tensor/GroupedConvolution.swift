// The grouped passes of the convolution entry points (Tensor/Convolution.swift), for the two
// algorithms ConvolutionAlgorithm picks when groups > 1: depthwise direct loops, or each group's
// channels through the ungrouped entry points, the results joined.

/// The channels of group `k` of `count` along `axis`.
@inlinable
func groupSlice<S>(_ x: Tensor<S>, axis: Int, group k: Int, of groups: Int) -> Tensor<S> {
    let size = x.shape[axis] / groups
    return x.slice(alongAxis: axis, (k * size)..<((k + 1) * size))
}

/// ``conv2d(_:filter:configuration:groups:)`` for `groups > 1`, plus `bias` (`[O]`) per output
/// channel if given: the depthwise kernels add it as they write each plane.
@usableFromInline
func groupedConv2d<S: TensorScalar>(
    _ input: Tensor<S>, filter: Tensor<S>, bias: Tensor<S>? = nil, geometry: Convolution2DGeometry, groups: Int
) -> Tensor<S> {
    let outputChannels = filter.shape[0]
    guard geometry.channels == groups else {
        var output = Tensor(concatenating: (0..<groups).map { k in
            conv2d(
                groupSlice(input, axis: 1, group: k, of: groups), filter: groupSlice(filter, axis: 0, group: k, of: groups),
                configuration: geometry.configuration)
        }, alongAxis: 1)
        if let bias { output += bias.reshaped(to: [1, outputChannels, 1, 1]) }
        return output
    }
    let outputShape = [geometry.batch, outputChannels, geometry.outputHeight, geometry.outputWidth]
    return Tensor(unsafeUninitializedShape: outputShape) { output in
        input.withUnsafeBufferPointer { input in
            filter.withUnsafeBufferPointer { filter in
                func run(_ bias: UnsafeBufferPointer<S>?) {
                    DepthwiseConvolutionKernels.forward(
                        geometry, outputChannels: outputChannels, input: input, filter: filter, bias: bias, output: output)
                }
                guard let bias else { return run(nil) }
                bias.withUnsafeBufferPointer { run($0) }
            }
        }
    }
}

/// ``conv2dBackwardInput(_:filter:inputShape:configuration:groups:)`` for `groups > 1`.
@usableFromInline
func groupedConv2dBackwardInput<S: TensorScalar>(
    _ outputGradient: Tensor<S>, filter: Tensor<S>, geometry: Convolution2DGeometry, groups: Int
) -> Tensor<S> {
    let g = geometry
    let inputShape = [g.batch, g.channels, g.height, g.width]
    guard g.channels == groups else {
        let groupShape = [g.batch, g.channels / groups, g.height, g.width]
        return Tensor(concatenating: (0..<groups).map { k in
            conv2dBackwardInput(
                groupSlice(outputGradient, axis: 1, group: k, of: groups), filter: groupSlice(filter, axis: 0, group: k, of: groups),
                inputShape: groupShape, configuration: g.configuration)
        }, alongAxis: 1)
    }
    return Tensor(unsafeUninitializedShape: inputShape) { inputGradient in
        outputGradient.withUnsafeBufferPointer { outputGradient in
            filter.withUnsafeBufferPointer { filter in
                DepthwiseConvolutionKernels.inputGradient(
                    g, outputChannels: filter.count / (g.kernelHeight * g.kernelWidth), outputGradient: outputGradient,
                    filter: filter, inputGradient: inputGradient)
            }
        }
    }
}

/// ``conv2dBackwardFilter(_:input:filterShape:configuration:groups:)`` for `groups > 1`.
@usableFromInline
func groupedConv2dBackwardFilter<S: TensorScalar>(
    _ outputGradient: Tensor<S>, input: Tensor<S>, filterShape: [Int], geometry: Convolution2DGeometry, groups: Int
) -> Tensor<S> {
    groupedConv2dBackwardFilterAndBias(
        outputGradient, input: input, filterShape: filterShape, geometry: geometry, groups: groups,
        computesBiasGradient: false
    ).filter
}

/// ``groupedConv2dBackwardFilter(_:input:filterShape:geometry:groups:)`` and, if
/// `computesBiasGradient`, the bias gradient `[O]` (the output gradient summed over axes 0, 2
/// and 3), which the depthwise kernel sums in its own pass, split over the threads as the filter is.
@usableFromInline
func groupedConv2dBackwardFilterAndBias<S: TensorScalar>(
    _ outputGradient: Tensor<S>, input: Tensor<S>, filterShape: [Int], geometry: Convolution2DGeometry, groups: Int,
    computesBiasGradient: Bool
) -> (filter: Tensor<S>, bias: Tensor<S>?) {
    guard geometry.channels == groups else {
        let groupShape = [filterShape[0] / groups] + filterShape.dropFirst()
        let filter = Tensor(concatenating: (0..<groups).map { k in
            conv2dBackwardFilter(
                groupSlice(outputGradient, axis: 1, group: k, of: groups), input: groupSlice(input, axis: 1, group: k, of: groups),
                filterShape: groupShape, configuration: geometry.configuration)
        }, alongAxis: 0)
        return (filter, computesBiasGradient ? outputGradient.sum(alongAxes: [0, 2, 3]) : nil)
    }
    var bias = [S](repeating: 0, count: computesBiasGradient ? filterShape[0] : 0)
    let filter = Tensor(unsafeUninitializedShape: filterShape) { filterGradient in
        outputGradient.withUnsafeBufferPointer { outputGradient in
            input.withUnsafeBufferPointer { input in
                bias.withUnsafeMutableBufferPointer { bias in
                    DepthwiseConvolutionKernels.filterGradient(
                        geometry, outputChannels: filterShape[0], outputGradient: outputGradient, input: input,
                        filterGradient: filterGradient, biasGradient: computesBiasGradient ? bias : nil)
                }
            }
        }
    }
    return (filter, computesBiasGradient ? Tensor(shape: [filterShape[0]], scalars: bias) : nil)
}
