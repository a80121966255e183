module secrets-platform/template-go-bench

go 1.19
