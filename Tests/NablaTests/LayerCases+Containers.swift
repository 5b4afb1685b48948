import Testing

@testable import Nabla

extension LayerCase {
    /// Rows for Sequential, Residual, Concatenate and CustomLayer.
    static let containers: [LayerCase] = []
}
