module secrets-platform/template-golden

go 1.19
