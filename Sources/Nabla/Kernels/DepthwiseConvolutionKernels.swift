import CNablaKernels

// Depthwise convolution (groups = input channels): each output channel reads one input channel
// through its own kh × kw kernel, so there is no matrix product to hand to BLAS. Direct loops,
// each tap applied to a whole output row (contiguous for stride 1, so it vectorizes), over
// disjoint planes in parallel. Zero padding is skipped rather than multiplied.
//
// At stride 1 and dilation 1, above the portable level, the C kernels of Depthwise.c run
// instead: each plane is copied into a zero-padded scratch plane, every vector of outputs sums all
// its taps in registers with FMA and is stored once.

/// The depthwise convolution's three passes over NCHW buffers. Output channel `o` reads input
/// channel `o / multiplier` (`multiplier` = output channels ÷ input channels); the filter is
/// `[O, 1, kh, kw]`.
enum DepthwiseConvolutionKernels {
    /// The outputs `ox` in `0..<count` whose input column `ox · stride + offset` lies in `0..<width`.
    @inlinable @inline(__always)
    static func columns(offset: Int, stride: Int, width: Int, count: Int) -> Range<Int> {
        let lower = offset >= 0 ? 0 : (stride - 1 - offset) / stride
        let upper = width - 1 - offset < 0 ? 0 : Swift.min(count, (width - 1 - offset) / stride + 1)
        return lower..<Swift.max(lower, upper)
    }

    /// Runs `body` over `0..<count` in up to `BLAS.threadCount` parallel ranges when there are
    /// about a million multiply-adds or more per range.
    @inlinable
    static func forEachRange(count: Int, multiplyAdds: Int, _ body: @Sendable (Range<Int>) -> Void) {
        let parts = Swift.max(1, Swift.min(BLAS.threadCount, count, multiplyAdds >> 20))
        guard parts > 1 else { return body(0..<count) }
        WorkerPool.run(parts: parts) { part in
            body((count * part / parts)..<(count * (part + 1) / parts))
        }
    }

    /// `target[ox] += weight · source[ox · stride + offset]` for the outputs of a row that read
    /// inside it (or, with `scatter`, the adjoint: `source` indexed by `ox` adds into `target` at
    /// `ox · stride + offset`).
    @inlinable @inline(__always)
    static func accumulateRow<S: TensorScalar>(
        _ target: UnsafeMutablePointer<S>, _ source: UnsafePointer<S>, weight: S, offset: Int, stride: Int,
        columns range: Range<Int>, scatter: Bool
    ) {
        if stride == 1 {
            let (t, s) = scatter ? (target + offset, source) : (target, source + offset)
            for ox in range { t[ox] += weight * s[ox] }
        } else if scatter {
            for ox in range { target[ox * stride + offset] += weight * source[ox] }
        } else {
            for ox in range { target[ox] += weight * source[ox * stride + offset] }
        }
    }

    /// Calls `body(oy, iy, tap, offset, outputs)` for every kernel tap `tap = i·kw + j` of every
    /// output row `oy` whose input row `iy` lies inside: output `ox` reads input column
    /// `ox · strideWidth + offset`, inside for the `outputs` range.
    @inlinable @inline(__always)
    static func forEachTap(_ g: Convolution2DGeometry, _ body: (Int, Int, Int, Int, Range<Int>) -> Void) {
        let c = g.configuration
        // Each kernel column's offset and output range, the same on every row.
        withUnsafeTemporaryAllocation(of: (offset: Int, outputs: Range<Int>).self, capacity: g.kernelWidth) { columnsOfTap in
            for j in 0..<g.kernelWidth {
                let offset = j * c.dilationWidth - c.paddingWidth
                columnsOfTap.initializeElement(
                    at: j, to: (offset, columns(offset: offset, stride: c.strideWidth, width: g.width, count: g.outputWidth)))
            }
            for oy in 0..<g.outputHeight {
                for i in 0..<g.kernelHeight {
                    let iy = oy * c.strideHeight - c.paddingHeight + i * c.dilationHeight
                    guard (0..<g.height).contains(iy) else { continue }
                    for j in 0..<g.kernelWidth {
                        body(oy, iy, i * g.kernelWidth + j, columnsOfTap[j].offset, columnsOfTap[j].outputs)
                    }
                }
            }
        }
    }

    /// `output` (`[N, O, oh, ow]`) = the depthwise convolution of `input` (`[N, C, H, W]`), plus
    /// `bias[o]` (`bias` is `[O]`) on every output of channel `o` if given, added to each plane
    /// right after it is computed, by the thread that computed it.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func forward<S: TensorScalar>(
        _ g: Convolution2DGeometry, outputChannels: Int, input: UnsafeBufferPointer<S>,
        filter: UnsafeBufferPointer<S>, bias: UnsafeBufferPointer<S>? = nil, output: UnsafeMutableBufferPointer<S>
    ) {
        let (ow, plane) = (g.outputWidth, g.outputHeight * g.outputWidth)
        let multiplier = outputChannels / g.channels, taps = g.kernelHeight * g.kernelWidth
        let level = simdLevel(g)
        if level > .portable {
            return forwardSIMD(g, level: level, multiplier: multiplier, input: input, filter: filter, bias: bias, output: output)
        }
        let buffers = UncheckedSendable((input, filter, output, bias))
        forEachRange(count: g.batch * outputChannels, multiplyAdds: g.batch * outputChannels * plane * taps) { planes in
            let (input, filter, output, bias) = buffers.value
            for index in planes {
                let (n, o) = index.quotientAndRemainder(dividingBy: outputChannels)
                let source = input.baseAddress! + (n * g.channels + o / multiplier) * g.height * g.width
                let target = output.baseAddress! + index * plane
                target.initialize(repeating: 0, count: plane)
                forEachTap(g) { oy, iy, tap, offset, outputs in
                    accumulateRow(
                        target + oy * ow, source + iy * g.width, weight: filter[o * taps + tap], offset: offset,
                        stride: g.configuration.strideWidth, columns: outputs, scatter: false)
                }
                if let bias { addBias(bias[o], to: target, count: plane) }
            }
        }
    }

    /// `target[0..<count] += value`.
    @inlinable @inline(__always)
    static func addBias<S: TensorScalar>(_ value: S, to target: UnsafeMutablePointer<S>, count: Int) {
        for k in 0..<count { target[k] += value }
    }

    /// `inputGradient` (`[N, C, H, W]`) from `outputGradient` (`[N, O, oh, ow]`): the adjoint of
    /// ``forward(_:outputChannels:input:filter:output:)``.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func inputGradient<S: TensorScalar>(
        _ g: Convolution2DGeometry, outputChannels: Int, outputGradient: UnsafeBufferPointer<S>,
        filter: UnsafeBufferPointer<S>, inputGradient: UnsafeMutableBufferPointer<S>
    ) {
        let (ow, plane) = (g.outputWidth, g.outputHeight * g.outputWidth)
        let multiplier = outputChannels / g.channels, taps = g.kernelHeight * g.kernelWidth
        let level = simdLevel(g)
        if level > .portable {
            return inputGradientSIMD(
                g, level: level, multiplier: multiplier, outputGradient: outputGradient, filter: filter,
                inputGradient: inputGradient)
        }
        let buffers = UncheckedSendable((outputGradient, filter, inputGradient))
        forEachRange(count: g.batch * g.channels, multiplyAdds: g.batch * outputChannels * plane * taps) { planes in
            let (outputGradient, filter, inputGradient) = buffers.value
            for index in planes {
                let (n, channel) = index.quotientAndRemainder(dividingBy: g.channels)
                let target = inputGradient.baseAddress! + index * g.height * g.width
                target.initialize(repeating: 0, count: g.height * g.width)
                for o in (channel * multiplier)..<((channel + 1) * multiplier) {
                    let source = outputGradient.baseAddress! + (n * outputChannels + o) * plane
                    forEachTap(g) { oy, iy, tap, offset, outputs in
                        accumulateRow(
                            target + iy * g.width, source + oy * ow, weight: filter[o * taps + tap], offset: offset,
                            stride: g.configuration.strideWidth, columns: outputs, scatter: true)
                    }
                }
            }
        }
    }

    /// `filterGradient` (`[O, 1, kh, kw]`): each tap's products of the output gradient with the
    /// input it read, summed over the batch and the positions. Each tap gathers its products in a
    /// row of partial sums, one per output column (elementwise, so it vectorizes), summed at the end.
    ///
    /// With `biasGradient` (`[O]`), it also writes each channel's output gradient summed over the
    /// batch and the positions (``ReductionKernels/channelSum(_:channel:channels:batch:plane:)``), in the
    /// thread that reads that channel.
    @_specialize(where S == Float) @_specialize(where S == Double)
    static func filterGradient<S: TensorScalar>(
        _ g: Convolution2DGeometry, outputChannels: Int, outputGradient: UnsafeBufferPointer<S>,
        input: UnsafeBufferPointer<S>, filterGradient: UnsafeMutableBufferPointer<S>,
        biasGradient: UnsafeMutableBufferPointer<S>? = nil
    ) {
        let (ow, plane) = (g.outputWidth, g.outputHeight * g.outputWidth)
        let multiplier = outputChannels / g.channels, taps = g.kernelHeight * g.kernelWidth
        let stride = g.configuration.strideWidth
        let level = simdLevel(g)
        if level > .portable {
            return filterGradientSIMD(
                g, level: level, outputChannels: outputChannels, outputGradient: outputGradient, input: input,
                filterGradient: filterGradient, biasGradient: biasGradient)
        }
        let buffers = UncheckedSendable((outputGradient, input, filterGradient, biasGradient))
        forEachRange(count: outputChannels, multiplyAdds: g.batch * outputChannels * plane * taps) { channels in
            let (outputGradient, input, filterGradient, biasGradient) = buffers.value
            for o in channels {
                biasGradient?[o] = ReductionKernels.channelSum(
                    outputGradient, channel: o, channels: outputChannels, batch: g.batch, plane: plane)
            }
            withUnsafeTemporaryAllocation(of: S.self, capacity: taps * ow) { partial in
                let partial = partial.baseAddress!
                for o in channels {
                    partial.initialize(repeating: 0, count: taps * ow)
                    for n in 0..<g.batch {
                        let gradient = outputGradient.baseAddress! + (n * outputChannels + o) * plane
                        let source = input.baseAddress! + (n * g.channels + o / multiplier) * g.height * g.width
                        forEachTap(g) { oy, iy, tap, offset, outputs in
                            let (row, inputRow, sums) = (gradient + oy * ow, source + iy * g.width, partial + tap * ow)
                            if stride == 1 {
                                let shifted = inputRow + offset
                                for ox in outputs { sums[ox] += row[ox] * shifted[ox] }
                            } else {
                                for ox in outputs { sums[ox] += row[ox] * inputRow[ox * stride + offset] }
                            }
                        }
                    }
                    for tap in 0..<taps {
                        filterGradient[o * taps + tap] = UnsafeBufferPointer(start: partial + tap * ow, count: ow).reduce(0, +)
                    }
                }
            }
        }
    }

    // MARK: - The C kernels, at stride 1 and dilation 1

    /// The level the passes of `g` run at: ``KernelFamily/depthwiseConvolution``'s, read once on
    /// the caller's thread, for stride 1 and dilation 1; `.portable` otherwise.
    @usableFromInline
    static func simdLevel(_ g: Convolution2DGeometry) -> SIMDLevel {
        let c = g.configuration
        // The C kernels keep a vector per tap on the stack of a worker thread: at most 25×25 taps.
        guard c.strideHeight == 1, c.strideWidth == 1, c.dilationHeight == 1, c.dilationWidth == 1,
            g.kernelHeight * g.kernelWidth <= 625
        else { return .portable }
        return KernelFamily.depthwiseConvolution.levelForRun()
    }

    /// ``forward(_:outputChannels:input:filter:output:)`` at `level` (`.avx2` or `.avx512`),
    /// stride 1 and dilation 1: one padded copy per input plane serves its `multiplier` outputs.
    static func forwardSIMD<S: TensorScalar>(
        _ g: Convolution2DGeometry, level: SIMDLevel, multiplier: Int, input: UnsafeBufferPointer<S>,
        filter: UnsafeBufferPointer<S>, bias: UnsafeBufferPointer<S>?, output: UnsafeMutableBufferPointer<S>
    ) {
        let (height, width, kh, kw) = (g.height, g.width, g.kernelHeight, g.kernelWidth)
        let (padding, plane) = ((g.configuration.paddingHeight, g.configuration.paddingWidth), g.outputHeight * g.outputWidth)
        let scratchCount = Int(nabla_depthwise_scratch_count(Int64(g.outputHeight), Int64(g.outputWidth), Int64(kh), Int64(kw)))
        let buffers = UncheckedSendable((input, filter, output, bias))
        forEachRange(count: g.batch * g.channels, multiplyAdds: g.batch * g.channels * multiplier * plane * kh * kw) { planes in
            let (input, filter, output, bias) = buffers.value
            withUnsafeTemporaryAllocation(of: S.self, capacity: scratchCount) { scratch in
                scratch.initialize(repeating: 0)  // the padding, kept by every plane
                for index in planes {
                    let source = input.baseAddress! + index * height * width
                    let kernels = filter.baseAddress! + index % g.channels * multiplier * kh * kw
                    let target = output.baseAddress! + index * multiplier * plane
                    let arguments = (
                        Int64(height), Int64(width), Int64(multiplier), Int64(kh), Int64(kw), Int64(padding.0),
                        Int64(padding.1))
                    if S.self == Float.self {
                        let run = level == .avx512 ? nabla_depthwise_forward_f32_avx512 : nabla_depthwise_forward_f32_avx2
                        run(
                            cast(source, Float.self), arguments.0, arguments.1, cast(kernels, Float.self), arguments.2, arguments.3, arguments.4,
                            arguments.5, arguments.6, cast(scratch.baseAddress!, Float.self), cast(target, Float.self))
                    } else {
                        let run = level == .avx512 ? nabla_depthwise_forward_f64_avx512 : nabla_depthwise_forward_f64_avx2
                        run(
                            cast(source, Double.self), arguments.0, arguments.1, cast(kernels, Double.self), arguments.2, arguments.3, arguments.4,
                            arguments.5, arguments.6, cast(scratch.baseAddress!, Double.self), cast(target, Double.self))
                    }
                    guard let bias else { continue }
                    // The planes of output channels index % C · multiplier ..< + multiplier, still in cache.
                    for k in 0..<multiplier {
                        addBias(bias[index % g.channels * multiplier + k], to: target + k * plane, count: plane)
                    }
                }
            }
        }
    }

    /// ``inputGradient(_:outputChannels:outputGradient:filter:inputGradient:)`` at `level`, stride
    /// 1 and dilation 1: each input plane sums its `multiplier` output gradients' correlations with
    /// the flipped kernels.
    static func inputGradientSIMD<S: TensorScalar>(
        _ g: Convolution2DGeometry, level: SIMDLevel, multiplier: Int, outputGradient: UnsafeBufferPointer<S>,
        filter: UnsafeBufferPointer<S>, inputGradient: UnsafeMutableBufferPointer<S>
    ) {
        let (oh, ow, kh, kw) = (g.outputHeight, g.outputWidth, g.kernelHeight, g.kernelWidth)
        let padding = (g.configuration.paddingHeight, g.configuration.paddingWidth)
        let scratchCount = Int(nabla_depthwise_scratch_count(Int64(g.height), Int64(g.width), Int64(kh), Int64(kw)))
        let buffers = UncheckedSendable((outputGradient, filter, inputGradient))
        forEachRange(count: g.batch * g.channels, multiplyAdds: g.batch * g.channels * multiplier * oh * ow * kh * kw) { planes in
            let (outputGradient, filter, inputGradient) = buffers.value
            withUnsafeTemporaryAllocation(of: S.self, capacity: scratchCount) { scratch in
                scratch.initialize(repeating: 0)  // the padding, kept by every plane
                for index in planes {
                    let source = outputGradient.baseAddress! + index * multiplier * oh * ow
                    let kernels = filter.baseAddress! + index % g.channels * multiplier * kh * kw
                    let target = inputGradient.baseAddress! + index * g.height * g.width
                    let arguments = (
                        Int64(oh), Int64(ow), Int64(multiplier), Int64(kh), Int64(kw), Int64(padding.0), Int64(padding.1))
                    if S.self == Float.self {
                        let run = level == .avx512
                            ? nabla_depthwise_inputGradient_f32_avx512 : nabla_depthwise_inputGradient_f32_avx2
                        run(
                            cast(source, Float.self), arguments.0, arguments.1, cast(kernels, Float.self), arguments.2, arguments.3, arguments.4,
                            arguments.5, arguments.6, cast(scratch.baseAddress!, Float.self), cast(target, Float.self))
                    } else {
                        let run = level == .avx512
                            ? nabla_depthwise_inputGradient_f64_avx512 : nabla_depthwise_inputGradient_f64_avx2
                        run(
                            cast(source, Double.self), arguments.0, arguments.1, cast(kernels, Double.self), arguments.2, arguments.3, arguments.4,
                            arguments.5, arguments.6, cast(scratch.baseAddress!, Double.self), cast(target, Double.self))
                    }
                }
            }
        }
    }

    /// ``filterGradient(_:outputChannels:outputGradient:input:filterGradient:)`` at `level`,
    /// stride 1 and dilation 1: each range of output channels reads its planes image by image in
    /// memory order, with vector partial sums per tap and channel, summed at the end.
    static func filterGradientSIMD<S: TensorScalar>(
        _ g: Convolution2DGeometry, level: SIMDLevel, outputChannels: Int, outputGradient: UnsafeBufferPointer<S>,
        input: UnsafeBufferPointer<S>, filterGradient: UnsafeMutableBufferPointer<S>,
        biasGradient: UnsafeMutableBufferPointer<S>?
    ) {
        let (plane, kh, kw) = (g.outputHeight * g.outputWidth, g.kernelHeight, g.kernelWidth)
        let multiplier = outputChannels / g.channels
        let padding = (g.configuration.paddingHeight, g.configuration.paddingWidth)
        let scratchCount = Int(nabla_depthwise_scratch_count(Int64(g.outputHeight), Int64(g.outputWidth), Int64(kh), Int64(kw)))
        let buffers = UncheckedSendable((outputGradient, input, filterGradient, biasGradient))
        forEachRange(count: outputChannels, multiplyAdds: g.batch * outputChannels * plane * kh * kw) { range in
            let (outputGradient, input, filterGradient, biasGradient) = buffers.value
            for o in range {
                biasGradient?[o] = ReductionKernels.channelSum(
                    outputGradient, channel: o, channels: outputChannels, batch: g.batch, plane: plane)
            }
            // The padded plane, then 16 lanes of partial sums per tap and channel.
            let partialCount = range.count * kh * kw * 16
            withUnsafeTemporaryAllocation(of: S.self, capacity: scratchCount + partialCount) { scratch in
                scratch.initialize(repeating: 0)  // the padding, kept by every plane
                let (padded, partial) = (scratch.baseAddress!, scratch.baseAddress! + scratchCount)
                let target = filterGradient.baseAddress! + range.lowerBound * kh * kw
                let arguments = (
                    Int64(g.batch), Int64(g.channels), Int64(multiplier), Int64(range.lowerBound), Int64(range.count),
                    Int64(g.height), Int64(g.width), Int64(kh), Int64(kw), Int64(padding.0), Int64(padding.1))
                if S.self == Float.self {
                    let run = level == .avx512
                        ? nabla_depthwise_filterGradient_f32_avx512 : nabla_depthwise_filterGradient_f32_avx2
                    run(
                        cast(outputGradient.baseAddress!, Float.self), cast(input.baseAddress!, Float.self), arguments.0, arguments.1,
                        arguments.2, arguments.3, arguments.4, arguments.5, arguments.6, arguments.7, arguments.8,
                        arguments.9, arguments.10, cast(padded, Float.self), cast(partial, Float.self), cast(target, Float.self))
                } else {
                    let run = level == .avx512
                        ? nabla_depthwise_filterGradient_f64_avx512 : nabla_depthwise_filterGradient_f64_avx2
                    run(
                        cast(outputGradient.baseAddress!, Double.self), cast(input.baseAddress!, Double.self), arguments.0, arguments.1,
                        arguments.2, arguments.3, arguments.4, arguments.5, arguments.6, arguments.7, arguments.8,
                        arguments.9, arguments.10, cast(padded, Double.self), cast(partial, Double.self), cast(target, Double.self))
                }
            }
        }
    }
}
