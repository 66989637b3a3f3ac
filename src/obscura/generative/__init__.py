"""Generative models: AE, VAE, GAN, DDPM and latent diffusion (see ``registry``)."""
