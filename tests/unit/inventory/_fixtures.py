"""Hand-written boto3-shaped descriptions for the pure inventory functions (no AWS, no moto)."""

from __future__ import annotations

from tinysquid.inventory.collect import RegionData

TG = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/proxy-tg/1"
TG_OTHER = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/app-tg/2"
LB = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/proxy-nlb/1"
LB_OTHER = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/app-nlb/2"
LISTENER = "arn:aws:elasticloadbalancing:us-east-1:1:listener/net/proxy-nlb/1/9"


def tags(**kv):
    return [{"Key": k, "Value": v} for k, v in kv.items()]


def instance(iid, name, *, sgs=(), role="tinyproxy", az="us-east-1a", ip="10.0.1.10", public=None,
             itype="t3.small", state="running", eni=None):
    eni = eni or f"eni-{iid[2:]}"
    inst = {"InstanceId": iid, "InstanceType": itype, "State": {"Name": state}, "PrivateIpAddress": ip,
            "Placement": {"AvailabilityZone": az}, "ImageId": "ami-1", "VpcId": "vpc-1", "SubnetId": "subnet-1",
            "Tags": tags(Name=name, Role=role), "SecurityGroups": [{"GroupId": g} for g in sgs],
            "NetworkInterfaces": [{"NetworkInterfaceId": eni, "PrivateIpAddress": ip, "SubnetId": "subnet-1",
                                   "Groups": [{"GroupId": g} for g in sgs],
                                   **({"Association": {"PublicIp": public}} if public else {})}]}
    if public:
        inst["PublicIpAddress"] = public
    return inst


def sg(gid, name, *perms):
    return {"GroupId": gid, "GroupName": name, "VpcId": "vpc-1", "Description": name, "IpPermissions": list(perms),
            "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}


def perm(proto, lo, hi, cidr="10.0.0.0/8"):
    return {"IpProtocol": proto, "FromPort": lo, "ToPort": hi, "IpRanges": [{"CidrIp": cidr}]}


def region_data():
    """Two proxies (one via EIP on its ENI, one auto-assigned), a decoy, an NLB, an idle tagged EIP."""
    d = RegionData(region="us-east-1")
    d.instances = [
        instance("i-a", "tinyproxy-a", sgs=["sg-proxy"], public="203.0.113.10"),
        instance("i-b", "tinyproxy-b", sgs=["sg-proxy"], az="us-east-1b", ip="10.0.2.10", public="198.51.100.7"),
        instance("i-decoy", "app-1", sgs=["sg-default", "sg-app"], role="app", ip="10.0.1.99", itype="m5.large"),
        instance("i-gone", "tinyproxy-old", sgs=["sg-proxy"], state="stopped", ip="10.0.1.50"),
    ]
    d.security_groups = [
        sg("sg-proxy", "tinyproxy", perm("tcp", 8888, 8888)),
        sg("sg-default", "default", {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-default"}]}),
        sg("sg-app", "app", perm("tcp", 0, 65535), perm("tcp", 443, 443, "0.0.0.0/0")),
    ]
    d.addresses = [
        {"AllocationId": "eipalloc-a", "PublicIp": "203.0.113.10", "AssociationId": "eipassoc-a",
         "NetworkInterfaceId": "eni-a", "PrivateIpAddress": "10.0.1.10", "Domain": "vpc",
         "Tags": tags(Role="tinyproxy")},
        {"AllocationId": "eipalloc-idle", "PublicIp": "203.0.113.99", "Domain": "vpc",
         "Tags": tags(Role="tinyproxy", Name="tinyproxy-spare")},
        {"AllocationId": "eipalloc-idle-other", "PublicIp": "203.0.113.77", "Domain": "vpc", "Tags": tags(Role="app")},
        {"AllocationId": "eipalloc-decoy", "PublicIp": "203.0.113.50", "AssociationId": "eipassoc-d",
         "InstanceId": "i-decoy", "Domain": "vpc"},
    ]
    d.target_groups = [
        {"TargetGroupArn": TG, "TargetGroupName": "proxy-tg", "Protocol": "TCP", "Port": 8888, "VpcId": "vpc-1",
         "TargetType": "instance", "LoadBalancerArns": [LB]},
        {"TargetGroupArn": TG_OTHER, "TargetGroupName": "app-tg", "Protocol": "TCP", "Port": 443, "VpcId": "vpc-1",
         "TargetType": "instance", "LoadBalancerArns": [LB_OTHER]},
    ]
    d.target_health = {
        TG: [{"Target": {"Id": "i-a", "Port": 8888}, "TargetHealth": {"State": "healthy"}},
             {"Target": {"Id": "i-b", "Port": 8888}, "TargetHealth": {"State": "unhealthy", "Reason": "Target.Timeout"}}],
        TG_OTHER: [{"Target": {"Id": "i-decoy", "Port": 443}, "TargetHealth": {"State": "healthy"}}],
    }
    d.target_group_attributes = {TG: {"deregistration_delay.timeout_seconds": "300",
                                      "preserve_client_ip.enabled": "true", "proxy_protocol_v2.enabled": "false"}}
    d.load_balancers = [
        {"LoadBalancerArn": LB, "LoadBalancerName": "proxy-nlb", "Type": "network", "Scheme": "internal",
         "DNSName": "proxy-nlb-1.elb.us-east-1.amazonaws.com", "VpcId": "vpc-1", "State": {"Code": "active"},
         "AvailabilityZones": [{"ZoneName": "us-east-1a", "SubnetId": "subnet-1"},
                               {"ZoneName": "us-east-1b", "SubnetId": "subnet-2"}]},
        {"LoadBalancerArn": LB_OTHER, "LoadBalancerName": "app-nlb", "Type": "network", "Scheme": "internal",
         "DNSName": "app-nlb-2.elb.us-east-1.amazonaws.com", "VpcId": "vpc-1", "State": {"Code": "active"},
         "AvailabilityZones": []},
    ]
    d.listeners = {LB: [{"ListenerArn": LISTENER, "Protocol": "TCP", "Port": 8888,
                         "DefaultActions": [{"Type": "forward", "TargetGroupArn": TG}]}]}
    d.load_balancer_attributes = {LB: {"load_balancing.cross_zone.enabled": "false"}}
    d.auto_scaling_groups = [{"AutoScalingGroupName": "tinyproxy-asg", "MinSize": 2, "MaxSize": 2,
                              "DesiredCapacity": 2, "Instances": [{"InstanceId": "i-a"}, {"InstanceId": "i-b"}],
                              "TargetGroupARNs": [TG]}]
    return d
