import Testing

@testable import Nabla

extension LayerCase {
    /// Rows for Dropout, pooling, Flatten and Reshape.
    static let poolingAndShape: [LayerCase] = [
        // Training (the default phase); the check replays the generator state in every forward.
        .init(name: "Dropout(p: 0.3), training", inputShape: [4, 6]) { _ in
            Dropout(probability: 0.3, seed: 7)
        } makeFloat: { _ in Dropout(probability: 0.3, seed: 7) },
        .init(name: "Dropout(p: 0.5), [2, 3, 4] input", inputShape: [2, 3, 4]) { _ in
            Dropout(probability: 0.5, seed: 3)
        } makeFloat: { _ in Dropout(probability: 0.5, seed: 3) },
        .init(name: "MaxPool2D(2×2)", inputShape: [2, 3, 4, 4], domain: .distinct) { _ in
            MaxPool2D(kernelSize: 2)
        } makeFloat: { _ in MaxPool2D(kernelSize: 2) },
        .init(name: "MaxPool2D(3×3, stride 2, padding 1), overlapping", inputShape: [2, 2, 5, 5], domain: .distinct) { _ in
            MaxPool2D(kernelSize: 3, stride: 2, padding: 1)
        } makeFloat: { _ in MaxPool2D(kernelSize: 3, stride: 2, padding: 1) },
        .init(name: "MaxPool2D(3×2, stride 2×1, padding 1×0)", inputShape: [1, 2, 5, 6], domain: .distinct) { _ in
            MaxPool2D(configuration: oddPooling)
        } makeFloat: { _ in MaxPool2D(configuration: oddPooling) },
        .init(name: "AvgPool2D(2×2)", inputShape: [2, 3, 4, 4]) { _ in
            AvgPool2D(kernelSize: 2)
        } makeFloat: { _ in AvgPool2D(kernelSize: 2) },
        .init(name: "AvgPool2D(3×3, stride 2, padding 1), overlapping", inputShape: [2, 2, 5, 5]) { _ in
            AvgPool2D(kernelSize: 3, stride: 2, padding: 1)
        } makeFloat: { _ in AvgPool2D(kernelSize: 3, stride: 2, padding: 1) },
        .init(name: "AvgPool2D(3×2, stride 2×1, padding 1×0)", inputShape: [1, 2, 5, 6]) { _ in
            AvgPool2D(configuration: oddPooling)
        } makeFloat: { _ in AvgPool2D(configuration: oddPooling) },
        .init(name: "GlobalAvgPool2D", inputShape: [2, 3, 4, 5]) { _ in GlobalAvgPool2D() } makeFloat: { _ in GlobalAvgPool2D() },
        .init(name: "Flatten", inputShape: [2, 3, 4, 2]) { _ in Flatten() } makeFloat: { _ in Flatten() },
        .init(name: "Reshape([4, -1])", inputShape: [2, 3, 4, 2]) { _ in Reshape(to: [4, -1]) } makeFloat: { _ in Reshape(to: [4, -1]) },
        .init(name: "Reshape([2, 3, 2])", inputShape: [3, 12]) { _ in Reshape(to: [2, 3, 2]) } makeFloat: { _ in Reshape(to: [2, 3, 2]) },
    ]

    static let oddPooling = Pooling2DConfiguration(
        kernelHeight: 3, kernelWidth: 2, strideHeight: 2, strideWidth: 1, paddingHeight: 1, paddingWidth: 0)
}
