"""Custom ops of the StyleGAN2 toolkit: pure-PyTorch references plus fast GPU paths that fall back to them."""
