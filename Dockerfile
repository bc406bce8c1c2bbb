# syntax=docker/dockerfile:1
# A static loanremind binary with embedded time zone data, on distroless,
# running as a non-root user. .ci/run runs the build line below as it is.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -tags timetzdata -ldflags "-s -w -X main.version=${VERSION}" -o /out/loanremind ./cmd/loanremind

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/loanremind /usr/local/bin/loanremind
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/loanremind"]
CMD ["run"]
