#!/bin/sh
echo "builds the image with another repository's Dockerfile"
