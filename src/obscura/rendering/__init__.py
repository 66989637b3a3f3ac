"""Neural rendering: multi-view scenes, cameras, structure-from-motion (radiance fields build on these)."""
