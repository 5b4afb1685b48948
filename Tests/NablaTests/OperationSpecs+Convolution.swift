import Foundation
import Testing

@testable import Nabla

// Spec rows for convolution and pooling, with naive nested-loop references, and a WGAN-GP
// penalty through a convolutional critic (second order through conv2d).

/// Naive NCHW convolution through `NaiveKernels.convolution2D`, plus an optional bias [O].
func naiveConvolution(
    _ x: Tensor<Double>, _ w: Tensor<Double>, bias: Tensor<Double>? = nil,
    _ configuration: Convolution2DConfiguration
) -> Tensor<Double> {
    let g = Convolution2DGeometry(
        batch: x.shape[0], channels: x.shape[1], height: x.shape[2], width: x.shape[3],
        kernelHeight: w.shape[2], kernelWidth: w.shape[3], configuration: configuration)
    let (o, plane) = (w.shape[0], g.outputHeight * g.outputWidth)
    var out = [Double](repeating: 0, count: g.batch * o * plane)
    x.withUnsafeBufferPointer { x in
        w.withUnsafeBufferPointer { w in
            out.withUnsafeMutableBufferPointer { NaiveKernels.convolution2D(g, input: x, filter: w, output: $0) }
        }
    }
    if let bias {
        for index in out.indices { out[index] += bias.scalars[(index / plane) % o] }
    }
    return Tensor(shape: [g.batch, o, g.outputHeight, g.outputWidth], scalars: out)
}

/// Visits every (column-matrix entry, input offset or nil for padding) pair of im2col, in the
/// documented layout: row `(c·kh + i)·kw + j`, column `(n·oh + oy)·ow + ox`.
func naiveIm2colPairs(
    inputShape s: [Int], kernelHeight kh: Int, kernelWidth kw: Int,
    _ c: Convolution2DConfiguration, _ visit: (Int, Int?) -> Void
) {
    let oh = (s[2] + 2 * c.paddingHeight - c.dilationHeight * (kh - 1) - 1) / c.strideHeight + 1
    let ow = (s[3] + 2 * c.paddingWidth - c.dilationWidth * (kw - 1) - 1) / c.strideWidth + 1
    let count = s[0] * oh * ow
    for ch in 0..<s[1] { for i in 0..<kh { for j in 0..<kw {
        let row = (ch * kh + i) * kw + j
        for n in 0..<s[0] { for oy in 0..<oh { for ox in 0..<ow {
            let y = oy * c.strideHeight + i * c.dilationHeight - c.paddingHeight
            let x = ox * c.strideWidth + j * c.dilationWidth - c.paddingWidth
            let inside = y >= 0 && y < s[2] && x >= 0 && x < s[3]
            visit(row * count + (n * oh + oy) * ow + ox, inside ? ((n * s[1] + ch) * s[2] + y) * s[3] + x : nil)
        } } }
    } } }
}

func naiveIm2col(_ x: Tensor<Double>, kh: Int, kw: Int, _ c: Convolution2DConfiguration, columnsShape: [Int]) -> Tensor<Double> {
    var out = [Double](repeating: 0, count: columnsShape.reduce(1, *))
    let v = x.scalars
    naiveIm2colPairs(inputShape: x.shape, kernelHeight: kh, kernelWidth: kw, c) { column, input in
        out[column] = input.map { v[$0] } ?? 0
    }
    return Tensor(shape: columnsShape, scalars: out)
}

func naiveCol2im(_ columns: Tensor<Double>, inputShape: [Int], kh: Int, kw: Int, _ c: Convolution2DConfiguration) -> Tensor<Double> {
    var out = [Double](repeating: 0, count: inputShape.reduce(1, *))
    let v = columns.scalars
    naiveIm2colPairs(inputShape: inputShape, kernelHeight: kh, kernelWidth: kw, c) { column, input in
        if let input { out[input] += v[column] }
    }
    return Tensor(shape: inputShape, scalars: out)
}

/// `G` `[N, O, oh, ow]` as the `[O, N·oh·ow]` matrix, in im2col's column order, by loops.
func naiveChannelMajor(_ g: Tensor<Double>) -> [[Double]] {
    let (n, o, plane) = (g.shape[0], g.shape[1], g.shape[2] * g.shape[3])
    return (0..<o).map { channel in
        (0..<(n * plane)).map { column in g.scalars[((column / plane) * o + channel) * plane + column % plane] }
    }
}

/// The input gradient of a convolution by its definition: col2im of `Wᵀ·G`, by loops.
func naiveConvolutionBackwardInput(
    _ g: Tensor<Double>, _ w: Tensor<Double>, inputShape: [Int], _ c: Convolution2DConfiguration
) -> Tensor<Double> {
    let gm = naiveChannelMajor(g)
    let (o, rows, count) = (w.shape[0], w.shape[1] * w.shape[2] * w.shape[3], gm[0].count)
    var columns = [Double](repeating: 0, count: rows * count)
    for r in 0..<rows { for k in 0..<o { for j in 0..<count { columns[r * count + j] += w.scalars[k * rows + r] * gm[k][j] } } }
    return naiveCol2im(Tensor(shape: [rows, count], scalars: columns), inputShape: inputShape, kh: w.shape[2], kw: w.shape[3], c)
}

/// The filter gradient of a convolution by its definition: `G·im2col(X)ᵀ`, by loops.
func naiveConvolutionBackwardFilter(
    _ g: Tensor<Double>, _ x: Tensor<Double>, filterShape: [Int], _ c: Convolution2DConfiguration
) -> Tensor<Double> {
    let gm = naiveChannelMajor(g)
    let (o, rows, count) = (filterShape[0], filterShape[1] * filterShape[2] * filterShape[3], gm[0].count)
    let columns = naiveIm2col(x, kh: filterShape[2], kw: filterShape[3], c, columnsShape: [rows, count]).scalars
    var out = [Double](repeating: 0, count: o * rows)
    for k in 0..<o { for r in 0..<rows { for j in 0..<count { out[k * rows + r] += gm[k][j] * columns[r * count + j] } } }
    return Tensor(shape: filterShape, scalars: out)
}

/// Naive NCHW pooling: the max over in-bounds taps (padding never wins), or the sum of
/// in-bounds taps divided by kh·kw (count_include_pad).
func naivePool(_ x: Tensor<Double>, kh: Int, kw: Int, stride: (Int, Int), padding: (Int, Int), max: Bool) -> Tensor<Double> {
    let s = x.shape
    let oh = (s[2] + 2 * padding.0 - kh) / stride.0 + 1, ow = (s[3] + 2 * padding.1 - kw) / stride.1 + 1
    var out: [Double] = []
    for n in 0..<s[0] { for ch in 0..<s[1] { for oy in 0..<oh { for ox in 0..<ow {
        var taps: [Double] = []
        for i in 0..<kh { for j in 0..<kw {
            let y = oy * stride.0 - padding.0 + i, xx = ox * stride.1 - padding.1 + j
            if y >= 0 && y < s[2] && xx >= 0 && xx < s[3] { taps.append(x[n, ch, y, xx]) }
        } }
        out.append(max ? taps.max()! : taps.reduce(0, +) / Double(kh * kw))
    } } } }
    return Tensor(shape: [s[0], s[1], oh, ow], scalars: out)
}

extension OperationSpec {
    static func conv2dRow(
        _ name: String, input: [Int], filter: [Int], bias: Bool = false,
        _ c: Convolution2DConfiguration
    ) -> OperationSpec {
        .init(
            name: name, inputShapes: [input, filter] + (bias ? [[filter[0]]] : []), domain: .any,
            double: { DOps.conv2d($0[0], filter: $0[1], bias: bias ? $0[2] : nil, configuration: c) },
            float: { FOps.conv2d($0[0], filter: $0[1], bias: bias ? $0[2] : nil, configuration: c) },
            reference: { naiveConvolution($0[0], $0[1], bias: bias ? $0[2] : nil, c) })
    }

    static func poolRow(
        _ name: String, input: [Int], kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int),
        max: Bool
    ) -> OperationSpec {
        let c = Pooling2DConfiguration(
            kernelHeight: kernel.0, kernelWidth: kernel.1, strideHeight: stride.0, strideWidth: stride.1,
            paddingHeight: padding.0, paddingWidth: padding.1)
        return .init(
            name: name, inputShapes: [input], domain: max ? .distinct : .any,
            double: { max
                ? DOps.maxPool2d($0[0], configuration: c)
                : DOps.avgPool2d($0[0], configuration: c) },
            float: { max
                ? FOps.maxPool2d($0[0], configuration: c)
                : FOps.avgPool2d($0[0], configuration: c) },
            reference: { naivePool($0[0], kh: kernel.0, kw: kernel.1, stride: stride, padding: padding, max: max) })
    }

    /// The rows of convolution and pooling.
    static let convolution: [OperationSpec] = {
        let strided = Convolution2DConfiguration(
            strideHeight: 2, strideWidth: 2, paddingHeight: 1, paddingWidth: 0,
            dilationHeight: 2, dilationWidth: 2)
        let im2colConfiguration = Convolution2DConfiguration(
            strideHeight: 2, strideWidth: 1, paddingHeight: 1, paddingWidth: 1,
            dilationHeight: 1, dilationWidth: 2)
        // im2col of [2, 2, 4, 5] with a 3×2 kernel: oh = 2, ow = 5, columns [12, 20].
        let columnsShape = [12, 20], imageShape = [2, 2, 4, 5]
        return [
            // Repeated indices: scatter must add, gather must read twice.
            .init(name: "gather", inputShapes: [[3, 4]], domain: .any,
                  double: { DOps.gather($0[0], atIndices: [5, 0, 11, 5, 7], shape: [5]) },
                  float: { FOps.gather($0[0], atIndices: [5, 0, 11, 5, 7], shape: [5]) },
                  reference: { x in Tensor([5, 0, 11, 5, 7].map { x[0].scalars[$0] }) }),
            .init(name: "scatter", inputShapes: [[5]], domain: .any,
                  double: { DOps.scatter($0[0], atIndices: [5, 0, 11, 5, 7], intoShape: [3, 4]) },
                  float: { FOps.scatter($0[0], atIndices: [5, 0, 11, 5, 7], intoShape: [3, 4]) },
                  reference: { x in
                      var out = [Double](repeating: 0, count: 12)
                      for (value, index) in zip(x[0].scalars, [5, 0, 11, 5, 7]) { out[index] += value }
                      return Tensor(shape: [3, 4], scalars: out)
                  }),
            conv2dRow("conv2d(stride 1, padding 1)", input: [2, 3, 5, 5], filter: [4, 3, 3, 3], .init(stride: 1, padding: 1)),
            conv2dRow("conv2d(stride 2, padding 1×0, dilation 2, kernel 3×2)", input: [1, 2, 7, 6], filter: [3, 2, 3, 2], strided),
            conv2dRow("conv2d(bias)", input: [2, 2, 4, 4], filter: [3, 2, 2, 2], bias: true, .init(stride: 1, padding: 0)),
            // The gradient ops: 3×3 stride 1 (the fast paths) and strided, dilated (im2col).
            .init(name: "conv2dBackwardInput(3×3, padding 1)", inputShapes: [[2, 4, 5, 6], [4, 3, 3, 3]], domain: .any,
                  double: { DOps.conv2dBackwardInput($0[0], filter: $0[1], inputShape: [2, 3, 5, 6], configuration: .init(padding: 1)) },
                  float: { FOps.conv2dBackwardInput($0[0], filter: $0[1], inputShape: [2, 3, 5, 6], configuration: .init(padding: 1)) },
                  reference: { naiveConvolutionBackwardInput($0[0], $0[1], inputShape: [2, 3, 5, 6], .init(padding: 1)) }),
            .init(name: "conv2dBackwardInput(strided, dilated)", inputShapes: [[1, 3, 3, 2], [3, 2, 3, 2]], domain: .any,
                  double: { DOps.conv2dBackwardInput($0[0], filter: $0[1], inputShape: [1, 2, 7, 6], configuration: strided) },
                  float: { FOps.conv2dBackwardInput($0[0], filter: $0[1], inputShape: [1, 2, 7, 6], configuration: strided) },
                  reference: { naiveConvolutionBackwardInput($0[0], $0[1], inputShape: [1, 2, 7, 6], strided) }),
            // With a bias, at im2col sizes (5 channels): the transposed convolution's op, whose
            // backward lowers its gradient once for all three gradients.
            .init(name: "conv2dBackwardInput(4×4, stride 2, padding 1, bias)", inputShapes: [[2, 6, 3, 3], [6, 5, 4, 4], [5]], domain: .any,
                  double: { DOps.conv2dBackwardInput($0[0], filter: $0[1], bias: $0[2], inputShape: [2, 5, 6, 6], configuration: .init(stride: 2, padding: 1)) },
                  float: { FOps.conv2dBackwardInput($0[0], filter: $0[1], bias: $0[2], inputShape: [2, 5, 6, 6], configuration: .init(stride: 2, padding: 1)) },
                  reference: {
                      naiveConvolutionBackwardInput($0[0], $0[1], inputShape: [2, 5, 6, 6], .init(stride: 2, padding: 1))
                          + $0[2].reshaped(to: [1, 5, 1, 1])
                  }),
            .init(name: "conv2dBackwardFilter(3×3, padding 1)", inputShapes: [[2, 4, 5, 6], [2, 3, 5, 6]], domain: .any,
                  double: { DOps.conv2dBackwardFilter($0[0], input: $0[1], filterShape: [4, 3, 3, 3], configuration: .init(padding: 1)) },
                  float: { FOps.conv2dBackwardFilter($0[0], input: $0[1], filterShape: [4, 3, 3, 3], configuration: .init(padding: 1)) },
                  reference: { naiveConvolutionBackwardFilter($0[0], $0[1], filterShape: [4, 3, 3, 3], .init(padding: 1)) }),
            .init(name: "conv2dBackwardFilter(strided, dilated)", inputShapes: [[1, 3, 3, 2], [1, 2, 7, 6]], domain: .any,
                  double: { DOps.conv2dBackwardFilter($0[0], input: $0[1], filterShape: [3, 2, 3, 2], configuration: strided) },
                  float: { FOps.conv2dBackwardFilter($0[0], input: $0[1], filterShape: [3, 2, 3, 2], configuration: strided) },
                  reference: { naiveConvolutionBackwardFilter($0[0], $0[1], filterShape: [3, 2, 3, 2], strided) }),
            .init(name: "im2col", inputShapes: [imageShape], domain: .any,
                  double: { DOps.im2col($0[0], kernelHeight: 3, kernelWidth: 2, configuration: im2colConfiguration) },
                  float: { FOps.im2col($0[0], kernelHeight: 3, kernelWidth: 2, configuration: im2colConfiguration) },
                  reference: { naiveIm2col($0[0], kh: 3, kw: 2, im2colConfiguration, columnsShape: columnsShape) }),
            .init(name: "col2im", inputShapes: [columnsShape], domain: .any,
                  double: { DOps.col2im($0[0], inputShape: imageShape, kernelHeight: 3, kernelWidth: 2, configuration: im2colConfiguration) },
                  float: { FOps.col2im($0[0], inputShape: imageShape, kernelHeight: 3, kernelWidth: 2, configuration: im2colConfiguration) },
                  reference: { naiveCol2im($0[0], inputShape: imageShape, kh: 3, kw: 2, im2colConfiguration) }),
            poolRow("maxPool2d(kernel 2, stride 2)", input: [2, 2, 4, 4], kernel: (2, 2), stride: (2, 2), padding: (0, 0), max: true),
            poolRow("maxPool2d(kernel 3, stride 2, padding 1)", input: [1, 2, 5, 5], kernel: (3, 3), stride: (2, 2), padding: (1, 1), max: true),
            poolRow("maxPool2d(kernel 2×3, stride 1×2, padding 1×1)", input: [1, 2, 4, 5], kernel: (2, 3), stride: (1, 2), padding: (1, 1), max: true),
            poolRow("avgPool2d(kernel 2, stride 2)", input: [2, 2, 4, 4], kernel: (2, 2), stride: (2, 2), padding: (0, 0), max: false),
            poolRow("avgPool2d(kernel 3, stride 2, padding 1)", input: [1, 2, 5, 5], kernel: (3, 3), stride: (2, 2), padding: (1, 1), max: false),
            .init(name: "maxPool2d(kernelSize 3, stride 2, padding 1)", inputShapes: [[1, 2, 5, 5]], domain: .distinct,
                  double: { DOps.maxPool2d($0[0], kernelSize: 3, stride: 2, padding: 1) },
                  float: { FOps.maxPool2d($0[0], kernelSize: 3, stride: 2, padding: 1) },
                  reference: { naivePool($0[0], kh: 3, kw: 3, stride: (2, 2), padding: (1, 1), max: true) }),
            .init(name: "avgPool2d(kernelSize 2)", inputShapes: [[1, 2, 4, 4]], domain: .any,
                  double: { DOps.avgPool2d($0[0], kernelSize: 2) },
                  float: { FOps.avgPool2d($0[0], kernelSize: 2) },
                  reference: { naivePool($0[0], kh: 2, kw: 2, stride: (2, 2), padding: (0, 0), max: false) }),
            // A pooled conv: the second order of conv2d through max pooling.
            .init(name: "maxPool2d(tanh(conv2d))", inputShapes: [[1, 2, 5, 5], [2, 2, 2, 2]], domain: .any,
                  double: { DOps.maxPool2d(DOps.tanh(DOps.conv2d($0[0], filter: $0[1])), kernelSize: 2) },
                  float: { FOps.maxPool2d(FOps.tanh(FOps.conv2d($0[0], filter: $0[1])), kernelSize: 2) },
                  reference: { x in
                      let y = naiveConvolution(x[0], x[1], .init())
                      return naivePool(Tensor(shape: y.shape, scalars: y.scalars.map(Foundation.tanh)), kh: 2, kw: 2,
                                       stride: (2, 2), padding: (0, 0), max: true)
                  }),
        ]
    }()
}

@Suite struct ConvolutionOperationTests {
    /// WGAN-GP: the gradient penalty `mean((‖∂D/∂x‖₂ − 1)²)` of a critic
    /// `D(x) = Σ tanh(conv2d(x, w)) ⊙ v`, differentiated with respect to `x` and `w`, against
    /// central differences.
    @Test func gradientPenaltyThroughConvolutionalCritic() {
        var generator = SeededGenerator(seed: 7)
        let x = Tensor<Double>.randomUniform(shape: [2, 1, 5, 5], in: -1..<1, using: &generator)
        let w = Tensor<Double>.randomUniform(shape: [2, 1, 3, 3], in: -1..<1, using: &generator)
        let v = Tensor<Double>.randomUniform(shape: [2, 2, 3, 3], in: -1..<1, using: &generator)
        let penalty: GradientCheck.Function<Double> = { inputs in
            let (x, w) = (inputs[0], inputs[1])
            let tape = GradientTape<Double>()
            tape.watch(x)
            let critic = tape.record {
                DOps.sum(DOps.tanh(DOps.conv2d(x, filter: w, configuration: .init(padding: 0))) * DOps.constant(v))
            }
            let dx = tape.gradient(of: critic, withRespectTo: [x])[0]
            let norms = DOps.sqrt(DOps.sum(DOps.square(dx), alongAxes: [1, 2, 3]))
            return DOps.mean(DOps.square(norms - 1))
        }
        let report = GradientCheck.check(penalty, at: [x, w])
        #expect(report.passed, "\(report)")
        // The penalty really depends on w through the second derivative.
        let gradient = GradientCheck.gradients(of: penalty, at: [DOps.variable(x), DOps.variable(w)], upstream: Tensor(1))
        #expect(gradient[1].value.scalars.contains { Swift.abs($0) > 1e-6 })
    }

    /// The max-pool gradient goes to the first of tied maxima.
    @Test func maxPoolTiesGoToFirst() {
        let x = DOps.variable(Tensor(shape: [1, 1, 2, 2], scalars: [1, 3, 3, 2]), requiresGradient: true)
        let tape = GradientTape<Double>()
        let y = tape.record { DOps.sum(DOps.maxPool2d(x, kernelSize: 2)) }
        #expect(tape.gradient(of: y, withRespectTo: [x])[0].value.scalars == [0, 1, 0, 0])
    }

    /// Only the needed gradients are computed; the input gradient is skipped for a constant input.
    @Test func conv2dSkipsUnneededInputGradient() {
        var generator = SeededGenerator(seed: 3)
        let x = DOps.constant(.randomUniform(shape: [1, 2, 4, 4], in: -1..<1, using: &generator))
        let w = DOps.variable(.randomUniform(shape: [3, 2, 3, 3], in: -1..<1, using: &generator), requiresGradient: true)
        let tape = GradientTape<Double>()
        let y = tape.record { DOps.sum(DOps.conv2d(x, filter: w, configuration: .init(padding: 1))) }
        let gw = tape.gradient(of: y, withRespectTo: [w])[0]
        let expected = conv2dBackwardFilter(
            Tensor<Double>(repeating: 1, shape: [1, 3, 4, 4]), input: x.value, filterShape: [3, 2, 3, 3],
            configuration: .init(padding: 1))
        expectClose(gw.value, expected, rtol: 1e-12, atol: 1e-12)
    }

    @Test func maxPoolPaddingTooLarge() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = maxPool2d(Tensor<Float>.zeros(shape: [1, 1, 4, 4]), configuration: .init(kernelSize: 2, padding: 2))
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("maxPool2d: input [1, 1, 4, 4] with kernel 2×2, stride 2×2, padding 2×2"))
        #expect(message.contains("padding must be at most half the window"))
    }

    @Test func conv2dBiasShape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = FOps.conv2d(
                FOps.constant(.zeros(shape: [1, 2, 4, 4])), filter: FOps.constant(.zeros(shape: [3, 2, 3, 3])),
                bias: FOps.constant(.zeros(shape: [2])))
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("conv2d: input [1, 2, 4, 4], filter [3, 2, 3, 3] and bias [2]: bias must be [3]"))
    }
}
