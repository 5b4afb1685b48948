extension GradientTape {
    /// The recorded graph in Graphviz DOT: one box per op, labelled with its name and output
    /// shape, clustered by the name scope it was recorded in (see ``withNameScope(_:_:)``).
    /// A non-persistent tape that has computed its gradient has nothing left to show.
    public func graphviz() -> String {
        let nodes = recordedNodes
        var producer: [UInt64: Int] = [:]
        for (index, node) in nodes.enumerated() { producer[node.outputID] = index }
        var lines = ["digraph Tape {", "  rankdir=LR;", "  node [shape=box, fontname=Helvetica];"]
        var leaves: Set<UInt64> = []
        for (scope, members) in Dictionary(grouping: nodes.indices, by: { nodes[$0].scope ?? "" })
            .sorted(by: { $0.key < $1.key })
        {
            if !scope.isEmpty {
                lines.append("  subgraph \"cluster_\(scope)\" {")
                lines.append("    label=\"\(scope)\";")
            }
            for index in members {
                lines.append("    op\(index) [label=\"\(nodes[index].name)\\n\(nodes[index].outputShape)\"];")
            }
            if !scope.isEmpty { lines.append("  }") }
        }
        for (index, node) in nodes.enumerated() {
            for input in node.inputs {
                if let source = producer[input.id] {
                    lines.append("  op\(source) -> op\(index);")
                } else {
                    if leaves.insert(input.id).inserted {
                        lines.append("  v\(input.id) [shape=ellipse, label=\"\(input.shape)\"];")
                    }
                    lines.append("  v\(input.id) -> op\(index);")
                }
            }
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }
}
