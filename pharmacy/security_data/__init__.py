"""Data files the account rules read: ``common-passwords.txt.gz``, Django's list of 20,000 common
passwords (Royce Williams' list, unhexed, lower-cased and de-duplicated; 19,640 lines), copied unchanged
from Django 5.2.19 (``django/contrib/auth/common-passwords.txt.gz``) under Django's BSD 3-clause licence,
``LICENSE.django`` beside it. Read by ``pharmacy.services.accounts.check_password_policy``."""
