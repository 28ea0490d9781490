"""What the offline model answers: `engine` (the rules) and `tool_matcher` (tool calls)."""
