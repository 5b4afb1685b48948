// The grouped passes of the convolution entry points (Tensor/Convolution.swift), for the two
// algorithms ConvolutionAlgorithm picks when groups > 1: depthwise direct loops, or each group's
// channels through the ungrouped entry points, the results joined.

/// The channels of group `k` of `count` along `axis`.
@inlinable
func groupSlice<S>(_ x: Tensor<S>, axis: Int, group k: Int, of groups: Int) -> Tensor<S> {
    let size = x.shape[axis] / groups
    return x.slice(alongAxis: axis, (k * size)..<((k + 1) * size))
}

/// ``conv2d(_:filter:configuration:groups:)`` for `groups > 1`.
@usableFromInline
func groupedConv2d<S: TensorScalar>(
    _ input: Tensor<S>, filter: Tensor<S>, geometry: Convolution2DGeometry, groups: Int
) -> Tensor<S> {
    let outputChannels = filter.shape[0]
    guard geometry.channels == groups else {
        return Tensor(concatenating: (0..<groups).map { k in
            conv2d(
                groupSlice(input, axis: 1, group: k, of: groups), filter: groupSlice(filter, axis: 0, group: k, of: groups),
                configuration: geometry.configuration)
        }, alongAxis: 1)
    }
    let outputShape = [geometry.batch, outputChannels, geometry.outputHeight, geometry.outputWidth]
    return Tensor(unsafeUninitializedShape: outputShape) { output in
        input.withUnsafeBufferPointer { input in
            filter.withUnsafeBufferPointer { filter in
                DepthwiseConvolutionKernels.forward(
                    geometry, outputChannels: outputChannels, input: input, filter: filter, output: output)
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
    guard geometry.channels == groups else {
        let groupShape = [filterShape[0] / groups] + filterShape.dropFirst()
        return Tensor(concatenating: (0..<groups).map { k in
            conv2dBackwardFilter(
                groupSlice(outputGradient, axis: 1, group: k, of: groups), input: groupSlice(input, axis: 1, group: k, of: groups),
                filterShape: groupShape, configuration: geometry.configuration)
        }, alongAxis: 0)
    }
    return Tensor(unsafeUninitializedShape: filterShape) { filterGradient in
        outputGradient.withUnsafeBufferPointer { outputGradient in
            input.withUnsafeBufferPointer { input in
                DepthwiseConvolutionKernels.filterGradient(
                    geometry, outputChannels: filterShape[0], outputGradient: outputGradient, input: input,
                    filterGradient: filterGradient)
            }
        }
    }
}
