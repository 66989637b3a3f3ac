"""Metrics every track uses: PSNR/SSIM (masked variants) and FID/KID on shipped feature networks."""

from obscura.metrics.features import (INCEPTION_NAME, ClassifierFeatures, FeatureNet, InceptionFeatures,
                                      PixelFeatures, extract_features, fid_kid, frechet_distance, inception_path,
                                      kernel_distance, kid_interval)
from obscura.metrics.images import mse, psnr, ssim, ssim_differentiable
from obscura.metrics.intervals import mean_interval

__all__ = ["INCEPTION_NAME", "ClassifierFeatures", "FeatureNet", "InceptionFeatures", "PixelFeatures",
           "extract_features", "fid_kid", "frechet_distance", "inception_path", "kernel_distance", "kid_interval", "mean_interval", "mse", "psnr",
           "ssim", "ssim_differentiable"]
