"""Neural rendering: multi-view scenes, cameras, structure-from-motion (radiance fields build on these)."""

# obscura.config imports this package's params section; loading config first keeps that cycle
# resolvable when a rendering module is the first thing imported.
import obscura.config  # noqa: F401
