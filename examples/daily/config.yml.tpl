# Committed to git: references, never values. Render with
#   escrow inject -i config.yml.tpl -o config.yml      (config.yml: mode 0600, in .gitignore)
database:
  url: postgres://app:escrow://prod/DB_PASSWORD@db.internal:5432/app
payments:
  stripe_key: "escrow://prod/STRIPE_KEY"
  # pin a version while a rotation is being rolled out:
  previous_key: "escrow://prod/STRIPE_KEY@v1"
log_level: info
