"""The LangFuse collector: GENERATION observations through LangFuse's public API."""
