"""NeRF on the CPU: ``vanilla`` (the lecture's NeRF) and ``grid`` (hash grid + occupancy grid), behind
one registry (:mod:`.registry`). Shared pieces: :mod:`.volume` (volume rendering, samplers,
contraction), :mod:`.base` (scene box, model interface), :mod:`.train` (training task, rendering,
checkpoints), :mod:`.outputs` (held-out evaluation, orbit video, TSDF mesh), :mod:`.fit` (one run end to
end). This package module stays import-light: params.py is read by the config loader."""
