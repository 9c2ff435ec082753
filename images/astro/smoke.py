"""Smoke check of the astro image (run by the science_images role with `docker run -i IMAGE python -`)."""

import astropy
import astroquery
import boto3
import matplotlib
import numpy
import s3fs
import scipy
from astropy.io import fits

hdu = fits.PrimaryHDU(numpy.arange(16, dtype="float32").reshape(4, 4))
assert float(hdu.data.sum()) == 120.0
for module in (astropy, astroquery, numpy, scipy, matplotlib, s3fs, boto3):
    print(module.__name__, module.__version__)
