// 2-D max and average pooling over NCHW tensors, the index gather and scatter behind max
// pooling's gradient, and the adjoint of average pooling.

/// The window of 2-D pooling and how it moves: kernel size, stride (the kernel size unless
/// given) and zero padding, each for the height and width dimensions.
///
/// ```swift
/// let pooled = maxPool2d(x, configuration: .init(kernelSize: 2))   // stride 2, padding 0
/// ```
///
/// Padding must be at most half the window; the values are checked against an input when the
/// pooling runs.
public struct Pooling2DConfiguration: Hashable, Sendable, CustomStringConvertible {
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideHeight: Int
    public var strideWidth: Int
    public var paddingHeight: Int
    public var paddingWidth: Int

    /// A square window; `stride` defaults to `kernelSize`, as in PyTorch.
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        self.init(
            kernelHeight: kernelSize, kernelWidth: kernelSize, strideHeight: stride ?? kernelSize,
            strideWidth: stride ?? kernelSize, paddingHeight: padding, paddingWidth: padding)
    }

    /// Separate values per dimension; strides default to the window's size.
    public init(
        kernelHeight: Int, kernelWidth: Int, strideHeight: Int? = nil, strideWidth: Int? = nil,
        paddingHeight: Int = 0, paddingWidth: Int = 0
    ) {
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight ?? kernelHeight
        self.strideWidth = strideWidth ?? kernelWidth
        self.paddingHeight = paddingHeight
        self.paddingWidth = paddingWidth
    }

    /// For example `kernel 3×3, stride 2×2, padding 1×1` (height × width).
    public var description: String {
        "kernel \(kernelHeight)×\(kernelWidth), stride \(strideHeight)×\(strideWidth), "
            + "padding \(paddingHeight)×\(paddingWidth)"
    }

    /// The same window movement as a convolution configuration, for the shared geometry.
    @usableFromInline var convolution: Convolution2DConfiguration {
        .init(
            strideHeight: strideHeight, strideWidth: strideWidth, paddingHeight: paddingHeight,
            paddingWidth: paddingWidth, dilationHeight: 1, dilationWidth: 1)
    }
}

/// 2-D max pooling of `input`, with the element each maximum came from.
///
/// - Parameters:
///   - input: `[N, C, H, W]`.
///   - configuration: the window, its stride and padding (at most half the window). Padding
///     never wins: it acts as −∞.
/// - Returns: `values` `[N, C, oh, ow]`, sizes as in ``conv2d(_:filter:configuration:)``, and
///   `indices`, for each output element (row-major) the row-major offset in `input` of its
///   maximum; ties go to the first in window order, and NaN wins.
@inlinable
public func maxPool2dWithIndices<S: TensorScalar>(
    _ input: Tensor<S>, configuration: Pooling2DConfiguration
) -> (values: Tensor<S>, indices: [Int]) {
    let g = Misuse.pooling2DGeometry("maxPool2d", inputShape: input.shape, configuration: configuration)
    let shape = [g.batch, g.channels, g.outputHeight, g.outputWidth]
    var indices = [Int](repeating: 0, count: shape.reduce(1, *))
    let values = Tensor<S>(unsafeUninitializedShape: shape) { output in
        input.withUnsafeBufferPointer { input in
            indices.withUnsafeMutableBufferPointer { indices in
                PoolingKernels.maxPool(g, input: input, output: output, indices: indices)
            }
        }
    }
    return (values, indices)
}

/// 2-D max pooling: ``maxPool2dWithIndices(_:configuration:)`` without the indices.
/// `[N, C, H, W]` → `[N, C, oh, ow]`.
@inlinable
public func maxPool2d<S: TensorScalar>(
    _ input: Tensor<S>, configuration: Pooling2DConfiguration
) -> Tensor<S> {
    maxPool2dWithIndices(input, configuration: configuration).values
}

/// 2-D average pooling, counting padding: every window sum is divided by
/// `kernelHeight · kernelWidth`, zeros in the padding included (PyTorch's default
/// `count_include_pad=True`).
///
/// - Parameters:
///   - input: `[N, C, H, W]`.
///   - configuration: the window, its stride and padding (at most half the window).
/// - Returns: `[N, C, oh, ow]`, sizes as in ``conv2d(_:filter:configuration:)``.
@inlinable
public func avgPool2d<S: TensorScalar>(
    _ input: Tensor<S>, configuration: Pooling2DConfiguration
) -> Tensor<S> {
    let g = Misuse.pooling2DGeometry("avgPool2d", inputShape: input.shape, configuration: configuration)
    return Tensor(unsafeUninitializedShape: [g.batch, g.channels, g.outputHeight, g.outputWidth]) {
        output in
        input.withUnsafeBufferPointer { PoolingKernels.averagePool(g, input: $0, output: output) }
    }
}

/// The adjoint of ``avgPool2d(_:configuration:)``: spreads each pooled
/// element, divided by `kernelHeight · kernelWidth`, over its window (padding dropped).
///
/// - Parameters:
///   - pooled: `[N, C, oh, ow]`.
///   - inputShape: `[N, C, H, W]`.
/// - Returns: a tensor of `inputShape`.
@inlinable
public func avgPool2dAdjoint<S: TensorScalar>(
    _ pooled: Tensor<S>, inputShape: [Int], configuration: Pooling2DConfiguration
) -> Tensor<S> {
    let op = "avgPool2dAdjoint"
    let g = Misuse.pooling2DGeometry(op, inputShape: inputShape, configuration: configuration)
    Misuse.checkPooledShape(op, pooled.shape, geometry: g)
    return Tensor(unsafeUninitializedShape: inputShape) { input in
        pooled.withUnsafeBufferPointer {
            PoolingKernels.averagePoolAdjoint(g, pooled: $0, input: input)
        }
    }
}

/// The elements of `x` at `indices`: result element `i` (row-major) is the element of `x` at
/// row-major offset `indices[i]`.
///
/// - Parameters:
///   - indices: one offset into `x` per element of `shape`.
/// - Returns: a tensor of `shape`.
@inlinable
public func gather<S: TensorScalar>(_ x: Tensor<S>, atIndices indices: [Int], shape: [Int])
    -> Tensor<S>
{
    Misuse.checkIndices("gather", indices, shape: shape, target: x.shape)
    return Tensor(unsafeUninitializedShape: shape) { output in
        x.withUnsafeBufferPointer { source in
            for (i, index) in indices.enumerated() { output[i] = source[index] }
        }
    }
}

/// The adjoint of ``gather(_:atIndices:shape:)``: a zero tensor of `shape` with element `i` of
/// `values` added at row-major offset `indices[i]` (repeated offsets add up).
///
/// - Parameters:
///   - values: any shape; `indices` has one offset per element.
/// - Returns: a tensor of `shape`.
@inlinable
public func scatter<S: TensorScalar>(
    _ values: Tensor<S>, atIndices indices: [Int], intoShape shape: [Int]
) -> Tensor<S> {
    Misuse.checkIndices("scatter", indices, shape: values.shape, target: shape)
    return Tensor(unsafeUninitializedShape: shape) { output in
        output.update(repeating: 0)
        values.withUnsafeBufferPointer { values in
            for (i, index) in indices.enumerated() { output[index] += values[i] }
        }
    }
}

/// The loops of 2-D pooling over NCHW buffers, sized by a ``Convolution2DGeometry`` whose
/// `channels` are pooled independently (dilation 1).
public enum PoolingKernels {
    /// The input rows (or columns) that output position `o` covers, padding removed; never
    /// empty when padding is at most half the window.
    @inlinable
    static func windows(stride: Int, padding: Int, kernel: Int, size: Int, outputs: Int)
        -> [Range<Int>]
    {
        (0..<outputs).map { o in
            let start = o * stride - padding
            return Swift.max(start, 0)..<Swift.min(start + kernel, size)
        }
    }

    /// Calls `body(o, base, rows, columns)` for every window in row-major output order: `o` is
    /// the output offset, `base` the offset of the window's input plane, and `rows` and
    /// `columns` the input rows and columns it covers.
    @inlinable @inline(__always)
    static func forEachWindow(
        _ g: Convolution2DGeometry, _ body: (Int, Int, Range<Int>, Range<Int>) -> Void
    ) {
        let c = g.configuration
        let rows = windows(
            stride: c.strideHeight, padding: c.paddingHeight, kernel: g.kernelHeight,
            size: g.height, outputs: g.outputHeight)
        let columns = windows(
            stride: c.strideWidth, padding: c.paddingWidth, kernel: g.kernelWidth,
            size: g.width, outputs: g.outputWidth)
        var o = 0
        for plane in 0..<(g.batch * g.channels) {
            let base = plane * g.height * g.width
            for rowRange in rows {
                for columnRange in columns {
                    body(o, base, rowRange, columnRange)
                    o += 1
                }
            }
        }
    }

    /// Writes each window's maximum to `output` and its row-major input offset to `indices`.
    /// `input` is `[N, C, H, W]`; `output` and `indices` are `[N, C, oh, ow]`.
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func maxPool<S: TensorScalar>(
        _ g: Convolution2DGeometry, input: UnsafeBufferPointer<S>,
        output: UnsafeMutableBufferPointer<S>, indices: UnsafeMutableBufferPointer<Int>
    ) {
        Misuse.checkPoolingBuffers("maxPool", g, input: input.count, pooled: output.count)
        Misuse.check(
            indices.count == output.count, "maxPool",
            "\(indices.count) indices for \(output.count) pooled scalars")
        guard output.count > 0 else { return }
        let source = input.baseAddress!
        let c = g.configuration
        if c.paddingHeight == 0 && c.paddingWidth == 0 {
            return maxPoolUnpadded(g, source, output.baseAddress!, indices.baseAddress!)
        }
        forEachWindow(g) { o, base, rowRange, columnRange in
            var bestIndex = base + rowRange.lowerBound * g.width + columnRange.lowerBound
            var best = source[bestIndex]
            for y in rowRange {
                let row = base + y * g.width
                for x in columnRange {
                    let v = source[row + x]
                    if v > best || (v.isNaN && !best.isNaN) {
                        best = v
                        bestIndex = row + x
                    }
                }
            }
            output[o] = best
            indices[o] = bestIndex
        }
    }

    /// ``maxPool(_:input:output:indices:)`` without padding, where every window lies inside
    /// its plane: straight pointer loops, and the 2×2, stride-2 window unrolled.
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    static func maxPoolUnpadded<S: TensorScalar>(
        _ g: Convolution2DGeometry, _ source: UnsafePointer<S>,
        _ output: UnsafeMutablePointer<S>, _ indices: UnsafeMutablePointer<Int>
    ) {
        let c = g.configuration
        let (width, plane) = (g.width, g.height * g.width)
        let (outputHeight, outputWidth) = (g.outputHeight, g.outputWidth)
        let isTwoByTwo = g.kernelHeight == 2 && g.kernelWidth == 2 && c.strideWidth == 2
        // Ties keep the first in window order; a NaN wins unless a NaN came first. Written as
        // two comparisons and no short circuit, so the choice compiles to conditional moves:
        // the maxima are unpredictable, and branches on them cost more than the comparisons.
        @inline(__always) func beats(_ v: S, _ best: S) -> Bool { !(v <= best) && best == best }
        var o = 0
        for p in 0..<(g.batch * g.channels) {
            for oy in 0..<outputHeight {
                let top = p * plane + oy * c.strideHeight * width
                if isTwoByTwo {
                    var ox = 0
                    if S.self == Float.self && width < 1 << 30 {  // eight windows at a time
                        ox = maxPoolTwoByTwoFloat(
                            UnsafeRawPointer(source + top).assumingMemoryBound(to: Float.self), width: width,
                            outputWidth: outputWidth, firstIndex: top,
                            output: UnsafeMutableRawPointer(output + o).assumingMemoryBound(to: Float.self),
                            indices: indices + o)
                        o += ox
                    }
                    for ox in ox..<outputWidth {
                        var index = top + 2 * ox
                        var best = source[index]
                        let first = index
                        for offset in 0..<3 {
                            let candidate = first + (offset == 0 ? 1 : width + offset - 1)
                            let value = source[candidate]
                            let wins = beats(value, best)
                            best = wins ? value : best
                            index = wins ? candidate : index
                        }
                        output[o] = best
                        indices[o] = index
                        o += 1
                    }
                    continue
                }
                for ox in 0..<outputWidth {
                    let corner = top + ox * c.strideWidth
                    var index = corner
                    var best = source[index]
                    for i in 0..<g.kernelHeight {
                        for j in 0..<g.kernelWidth {
                            let candidate = corner + i * width + j
                            let value = source[candidate]
                            let wins = beats(value, best)
                            best = wins ? value : best
                            index = wins ? candidate : index
                        }
                    }
                    output[o] = best
                    indices[o] = index
                    o += 1
                }
            }
        }
    }

    /// The 2×2, stride-2 windows of one output row, eight at a time: deinterleaves 16 scalars of
    /// each input row into the windows' left and right columns. Returns how many outputs it wrote
    /// (a multiple of 8); the caller does the rest.
    @inlinable
    static func maxPoolTwoByTwoFloat(
        _ top: UnsafePointer<Float>, width: Int, outputWidth: Int, firstIndex: Int,
        output: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int>
    ) -> Int {
        var ox = 0
        let lanes = SIMD8<Int32>(0, 2, 4, 6, 8, 10, 12, 14)
        while ox + 8 <= outputWidth {
            let upper = UnsafeRawPointer(top + 2 * ox).loadUnaligned(as: SIMD16<Float>.self)
            let lower = UnsafeRawPointer(top + 2 * ox + width).loadUnaligned(as: SIMD16<Float>.self)
            var best = upper.evenHalf
            var offset = lanes
            // Ties keep the first tap; a NaN wins unless a NaN came first.
            var wins = .!(upper.oddHalf .<= best) .& (best .== best)
            best.replace(with: upper.oddHalf, where: wins)
            offset.replace(with: lanes &+ 1, where: wins)
            wins = .!(lower.evenHalf .<= best) .& (best .== best)
            best.replace(with: lower.evenHalf, where: wins)
            offset.replace(with: lanes &+ Int32(width), where: wins)
            wins = .!(lower.oddHalf .<= best) .& (best .== best)
            best.replace(with: lower.oddHalf, where: wins)
            offset.replace(with: lanes &+ Int32(width + 1), where: wins)
            UnsafeMutableRawPointer(output + ox).storeBytes(of: best, as: SIMD8<Float>.self)
            let first = firstIndex + 2 * ox
            for lane in 0..<8 { indices[ox + lane] = first + Int(offset[lane]) }
            ox += 8
        }
        return ox
    }

    /// Writes each window's sum divided by `kh · kw` to `output`. `input` is `[N, C, H, W]`,
    /// `output` `[N, C, oh, ow]`.
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func averagePool<S: TensorScalar>(
        _ g: Convolution2DGeometry, input: UnsafeBufferPointer<S>,
        output: UnsafeMutableBufferPointer<S>
    ) {
        Misuse.checkPoolingBuffers("averagePool", g, input: input.count, pooled: output.count)
        guard output.count > 0 else { return }
        let scale = 1 / S(g.kernelHeight * g.kernelWidth)
        let source = input.baseAddress!
        forEachWindow(g) { o, base, rowRange, columnRange in
            var sum: S = 0
            for y in rowRange {
                let row = source + base + y * g.width
                for x in columnRange { sum += row[x] }
            }
            output[o] = sum * scale
        }
    }

    /// Overwrites `input` with the adjoint of ``averagePool(_:input:output:)`` applied to
    /// `pooled`.
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func averagePoolAdjoint<S: TensorScalar>(
        _ g: Convolution2DGeometry, pooled: UnsafeBufferPointer<S>,
        input: UnsafeMutableBufferPointer<S>
    ) {
        Misuse.checkPoolingBuffers(
            "averagePoolAdjoint", g, input: input.count, pooled: pooled.count)
        guard input.count > 0 else { return }
        input.update(repeating: 0)
        let scale = 1 / S(g.kernelHeight * g.kernelWidth)
        let target = input.baseAddress!
        forEachWindow(g) { o, base, rowRange, columnRange in
            let v = pooled[o] * scale
            for y in rowRange {
                let row = target + base + y * g.width
                for x in columnRange { row[x] += v }
            }
        }
    }
}
